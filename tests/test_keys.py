"""Keys derived per purpose from the master secret (app/keys.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import keys
from app.db import utcnow
from app.delivery.email import delivery_token, parse_token
from app.signatures import tokens

SECRET = "s" * 40


class TestDerive:
    def test_each_purpose_has_its_own_key_and_none_is_the_secret(self) -> None:
        derived = {keys.derive(SECRET, purpose) for purpose in keys.Purpose}
        assert len(derived) == len(keys.Purpose)
        assert SECRET.encode() not in derived
        assert keys.derive(SECRET, keys.Purpose.form_token) != keys.derive(
            "t" * 40, keys.Purpose.form_token
        )


class TestPurposesDoNotCross:
    def test_a_form_token_never_verifies_as_a_reply_token(self) -> None:
        issued = utcnow() - timedelta(minutes=5)
        form = tokens.form_token("7", SECRET, issued_at=issued)
        mac = form.partition(".")[2][:20]
        assert parse_token(f"7.{mac}", SECRET) is None
        assert parse_token(delivery_token(7, SECRET), SECRET) == 7

    def test_a_form_token_of_the_previous_secret_is_still_good(self) -> None:
        old = tokens.form_token("c", "o" * 40, issued_at=utcnow() - timedelta(minutes=5))
        check = {
            "now": utcnow(),
            "min_fill": timedelta(seconds=1),
            "max_age": timedelta(hours=1),
        }
        assert tokens.check_form_token(old, "c", SECRET, **check) == "forged"  # type: ignore[arg-type]
        assert tokens.check_form_token(old, "c", SECRET, previous=["o" * 40], **check) is None  # type: ignore[arg-type]


class TestSecretProblem:
    @pytest.mark.parametrize(
        ("secret", "problem"),
        [("", "not set"), ("change-me-in-production", "published default"), ("short", "shorter")],
    )
    def test_unusable_secrets_are_named(self, secret: str, problem: str) -> None:
        assert problem in (keys.secret_problem(secret) or "")

    def test_a_long_random_secret_is_fine(self) -> None:
        assert keys.secret_problem(SECRET) is None
