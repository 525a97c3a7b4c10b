"""Digest campaigns: one letter per office per period, signed on behalf of its co-signers."""
