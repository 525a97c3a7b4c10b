"""Public signing: campaign pages, the form and its API, double opt-in, self-service."""
