"""Fixtures shared by the delivery tests, defined once where they were first needed.

`queued` (one letter to PACE, its e-mail address verified, queued for delivery) lives in
test_worker.py; listing it here makes it available to every test module in this folder.
"""

from tests.delivery.test_worker import queued

__all__ = ["queued"]
