"""Letter templates: the files staff write, and the sandbox that renders them."""
