"""`python -m app` is the `appeals` command."""

from app.cli import main

main()
