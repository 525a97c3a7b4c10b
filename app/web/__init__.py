"""Server-rendered HTML: the page templates (autoescaped), static files and page helpers."""
