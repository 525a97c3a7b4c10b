"""Cheap argon2 parameters for the staff tests: the same code path, a fraction of the time."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles

from app.staff import passwords


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: cheap.hash("dummy"))
