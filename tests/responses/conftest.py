"""Fixtures of the inbound-mail tests: the app with an inbound secret, and the mail samples.

The samples in samples/ name deliveries 4242 and 4243 with tokens signed by the default secret;
`sample()` rewrites a sample's tokens to name a delivery of the test (its reply+/bounce+
addresses, its Message-ID and the returned copy all carry the token).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.delivery.email import delivery_token
from tests.delivery.test_worker import queued, smtp

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_TOKENS = ("4242.5415ad171cfd1bf2158c", "4243.7e7998e6e55bddc32baf")
INBOUND_SECRET = "inbound-test-secret"

__all__ = ["INBOUND_SECRET", "SAMPLES", "queued", "sample", "smtp"]


def sample(name: str, *, delivery_id: int | None = None, secret: str = "") -> bytes:
    raw = (SAMPLES / name).read_bytes()
    if delivery_id is not None:
        token = delivery_token(delivery_id, secret or Settings().token_secret)
        for old in SAMPLE_TOKENS:
            raw = raw.replace(old.encode(), token.encode())
    return raw


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, var_dir=tmp_path / "var", inbound_secret=INBOUND_SECRET
    )
