"""DKIM signatures on every mail we send, when a key is configured, and the DNS records to publish.

Large providers file unsigned mail from a domain without SPF and DKIM as spam, or refuse it:
an office's inbox would never see the appeal. With `APPEALS_DKIM_SELECTOR` and
`APPEALS_DKIM_PRIVATE_KEY_FILE` set, both transports sign each message's final bytes (dkimpy,
relaxed/relaxed canonicalisation, so a relay's re-folding keeps it valid), letters and
confirmation mails alike; the outbox's .eml files carry the same signature, so what is sent can
be checked before anything is. `dns_records` prints what the domain must publish for it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import Settings
from app.startup import SetupError

# Signed: what a reader sees and what a forger would change; a header a relay adds later is not.
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"Reply-To",
    b"MIME-Version",
    b"Content-Type",
    b"Content-Transfer-Encoding",
    b"Auto-Submitted",
    b"List-Unsubscribe",
)


class DkimKeyError(SetupError, ValueError):
    """A configured key that cannot sign: its file is missing, unreadable or not an RSA key."""


@dataclass(frozen=True, slots=True)
class DkimSigner:
    selector: str
    domain: str
    private_key: bytes  # PEM

    def sign(self, message: bytes) -> bytes:
        """`message` with its DKIM-Signature header first."""
        header: bytes = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        return header + message

    def public_record(self) -> str:
        """The TXT record's value that lets receivers check the signatures."""
        return f"v=DKIM1; k=rsa; p={public_key_base64(self.private_key)}"


def public_key_base64(private_key: bytes) -> str:
    key = serialization.load_pem_private_key(private_key, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimKeyError("the DKIM key must be an RSA private key (PEM)")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def signer_from(settings: Settings) -> DkimSigner | None:
    """The signer the settings ask for, or None when DKIM is not configured."""
    if settings.dkim_selector is None or settings.dkim_private_key_file is None:
        return None
    path = Path(settings.dkim_private_key_file)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise DkimKeyError(
            f"APPEALS_DKIM_PRIVATE_KEY_FILE: cannot read {path} ({exc.strerror})"
        ) from None
    try:
        public_key_base64(key)
    except (ValueError, TypeError) as exc:
        raise DkimKeyError(
            f"APPEALS_DKIM_PRIVATE_KEY_FILE: {path} is not a usable key: {exc}"
        ) from None
    return DkimSigner(settings.dkim_selector, settings.dkim_domain or settings.mail_domain, key)


def dns_records(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, type, value) of each record to publish for mail from `mail_domain`: SPF, DKIM
    (when a key is configured), DMARC, and where bounces and replies come back."""
    domain = settings.mail_domain
    relay = settings.smtp_host if settings.mail_transport == "smtp" else None
    spf = f"v=spf1 mx{f' a:{relay}' if relay and not relay[0].isdigit() else ''} ~all"
    records = [(f"{domain}.", "TXT", spf)]
    signer = signer_from(settings)
    if signer is not None:
        records.append(
            (f"{signer.selector}._domainkey.{signer.domain}.", "TXT", signer.public_record())
        )
    records.append(
        (
            f"_dmarc.{domain}.",
            "TXT",
            f"v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:dmarc@{domain}",
        )
    )
    records.append(
        (
            f"{domain}.",
            "MX",
            f"10 <your inbound mail server>  (bounce+…@{domain}, reply+…@{domain})",
        )
    )
    return records
