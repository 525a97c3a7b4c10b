"""Inbound mail and the responses of offices to letters."""
