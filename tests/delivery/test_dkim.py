"""DKIM: what both transports carry verifies against the record `appeals mail dns` prints, and
stops verifying when one byte changes. The receiving side is dkimpy's own verifier, given the
published record instead of a DNS lookup (nothing leaves the machine)."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import Settings
from app.delivery.email import make_transport
from app.delivery.email.dkim import DkimKeyError, dns_records, signer_from
from tests.delivery.test_email import SETTINGS, letter
from tests.delivery.test_worker import Sink, smtp, smtp_settings

__all__ = ["smtp"]  # the SMTP server fixture


@pytest.fixture(scope="module", params=["pkcs1", "pkcs8"])
def key_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RSA key as openssl writes one: PKCS#1 (`genrsa` before 3.0) or PKCS#8 (since)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if request.param == "pkcs1"
        else serialization.PrivateFormat.PKCS8
    )
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    )
    return path


def signing(settings: Settings, key_file: Path) -> Settings:
    return settings.model_copy(
        update={
            "mail_domain": "appeals.example.org",
            "dkim_selector": "s2026",
            "dkim_private_key_file": key_file,
        }
    )


def published(settings: Settings) -> dict[bytes, bytes]:
    """The TXT records `appeals mail dns` tells the operator to publish, by name."""
    return {
        name.encode(): value.encode()
        for name, kind, value in dns_records(settings)
        if kind == "TXT"
    }


def verifies(message: bytes, records: dict[bytes, bytes]) -> bool:
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return records.get(name, b"")

    return bool(dkim.verify(message, dnsfunc=lookup))


class TestSigning:
    async def test_the_outbox_file_verifies_and_a_changed_byte_does_not(
        self, key_file: Path, tmp_path: Path
    ) -> None:
        settings = signing(SETTINGS, key_file).model_copy(update={"var_dir": tmp_path})
        transport = make_transport(settings)
        await transport.send(letter(settings=settings))
        [written] = (tmp_path / "outbox").glob("*.eml")
        raw = written.read_bytes().split(b"\r\n", 1)[1]  # after the outbox's envelope line
        assert raw.startswith(b"DKIM-Signature: ")
        assert b"d=appeals.example.org" in raw and b"s=s2026" in raw
        records = published(settings)
        assert verifies(raw, records)
        assert not verifies(raw.replace(b"Please act.", b"Please act!"), records)

    async def test_mail_over_smtp_arrives_signed(
        self, key_file: Path, smtp: tuple[int, Sink], settings: Settings
    ) -> None:
        port, sink = smtp
        config = signing(smtp_settings(settings, port), key_file)
        transport = make_transport(config)
        try:
            await transport.send(letter(settings=config))
        finally:
            await transport.close()
        [(_, _, data)] = sink.messages
        assert verifies(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), published(config))

    def test_no_key_means_unsigned_and_no_dkim_record(self) -> None:
        assert signer_from(SETTINGS) is None
        names = [name for name, _, _ in dns_records(SETTINGS)]
        assert not any("_domainkey" in name for name in names)
        assert f"_dmarc.{SETTINGS.mail_domain}." in names


class TestKeyProblems:
    def test_a_selector_without_a_key_is_refused(self) -> None:
        with pytest.raises(ValueError, match="go together"):
            Settings(dkim_selector="s2026")

    def test_a_missing_key_file_names_the_setting(self, tmp_path: Path) -> None:
        settings = SETTINGS.model_copy(
            update={"dkim_selector": "s", "dkim_private_key_file": tmp_path / "none.pem"}
        )
        with pytest.raises(DkimKeyError, match="APPEALS_DKIM_PRIVATE_KEY_FILE: cannot read"):
            signer_from(settings)
