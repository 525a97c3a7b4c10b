"""Proof of delivery: each letter's dossier (what was sent, how, and what came back) with the
SHA-256 of every item and of the whole, and the check that a dossier is unchanged."""
