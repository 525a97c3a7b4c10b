"""The campaign dashboard: what staff read about a campaign, from every domain.

It sits above every domain (it reads campaigns, letters, delivery, digests, signatures and
responses) and nothing imports it but the application.
"""
