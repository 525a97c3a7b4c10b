"""The data that ships with the project: loading `cases/` and `recipients/` and importing them."""
