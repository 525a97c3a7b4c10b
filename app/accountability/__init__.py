"""Holding offices to account: every delivered letter's answer clock, its due date and state.

A feature over delivery (when a letter reached an office) and responses (what came back), so it
sits above both (docs/architecture.md): `terms.py` counts due dates, `models.py` keeps one clock
per delivered letter, `service.py` starts and settles clocks and reads them, `round.py` is the
worker's round, `api.py` and `pages.py` show them to staff.
"""
