"""The postal channel: print batches posted by staff, a print-and-mail provider with its tracking,
and the print-ready PDF (typesetting and layout) both of them use."""
