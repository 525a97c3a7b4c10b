"""Letters: rendering from sandboxed templates, the letter on record, print-ready PDFs."""
