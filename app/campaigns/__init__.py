"""Campaigns: cases, target offices, a letter template, channels, pacing and a status."""
