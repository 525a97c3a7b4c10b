"""The web-form channel: a task per letter for a person to send through the office's own form."""
