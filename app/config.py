"""Settings, read once from the environment (`APPEALS_` prefix) and passed down explicitly."""

from __future__ import annotations

import ipaddress
import ssl
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.text import Line

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _shipped() -> Path:
    """Where the migrations, the report's data and the letter templates are: the checkout this
    code runs from, or, installed from a wheel, <prefix>/share/appeals (pyproject data-files)."""
    if (PROJECT_ROOT / "alembic" / "env.py").is_file():
        return PROJECT_ROOT
    # <prefix>/lib/pythonX.Y/site-packages/app/config.py: the prefix the wheel went into
    # (pip --prefix, a venv, the system), then the running interpreter's.
    for prefix in (Path(__file__).resolve().parents[4], Path(sys.prefix)):
        if (prefix / "share" / "appeals" / "alembic" / "env.py").is_file():
            return prefix / "share" / "appeals"
    return Path(sys.prefix) / "share" / "appeals"


SHIPPED = _shipped()


class Settings(BaseSettings):
    """Everything configurable. Defaults give the embedded setup: SQLite and files under ./var."""

    model_config = SettingsConfigDict(env_prefix="APPEALS_", env_file=None, extra="ignore")

    var_dir: Path = Field(
        default=Path("var"), description="Where the embedded setup keeps its files."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means SQLite at <var_dir>/appeals.db.",
    )
    database_echo: bool = Field(default=False, description="Log every SQL statement (debugging).")
    cases_dir: Path = Field(default=SHIPPED / "cases", description="The case files to import.")
    recipients_dir: Path = Field(default=SHIPPED / "recipients", description="The office files.")
    alembic_dir: Path = Field(default=SHIPPED / "alembic", description="The migrations.")
    templates_dir: Path = Field(
        default=SHIPPED / "letter_templates", description="The letter templates (*.j2)."
    )
    default_language: str = Field(
        default="en",
        pattern=r"^[a-z]{2}$",
        description="The language of a letter when none fits the office.",
    )

    organisation_name: Annotated[str, Line(200, min_length=1)] = Field(
        default="Appeals", description="Who runs the campaigns (the From name of mails)."
    )
    organisation_address: list[str] = Field(
        default_factory=list, description="Return address lines printed on posted letters."
    )
    pdf_layout: Literal["din5008_b", "din5008_a", "us10"] = Field(
        default="din5008_b", description="Window-envelope layout; US addresses use us10."
    )
    post_transport: Literal["batch", "provider"] = Field(
        default="batch",
        description="batch: staff print batches and post them; provider: a print-and-mail "
        "service prints and posts each letter (APPEALS_PRINTMAIL_*).",
    )
    printmail_base_url: str = Field(
        default="",
        description="The print-and-mail API, e.g. https://api.provider.example/v1. Nothing else "
        "is ever contacted; empty pauses the postal channel in provider mode.",
    )
    printmail_api_key: str | None = Field(default=None, description="Sent as basic-auth user.")
    printmail_timeout_seconds: float = Field(default=30, gt=0, description="Per provider call.")
    printmail_tracking_minutes: int = Field(
        default=360, ge=1, description="How often a provider letter's tracking events are read."
    )
    mail_transport: Literal["outbox", "smtp"] = Field(
        default="outbox", description="outbox writes .eml files to <var_dir>/outbox; smtp sends."
    )
    smtp_host: str = Field(default="127.0.0.1", description="The SMTP relay (smtp transport).")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="The relay's port.")
    smtp_starttls: bool = Field(default=False, description="Upgrade with STARTTLS (port 587).")
    smtp_tls: bool = Field(default=False, description="TLS from the first byte (port 465).")
    tls_ca_file: Path | None = Field(
        default=None,
        description="CA certificates (PEM) trusted for the SMTP and IMAP servers besides the "
        "system's: for a server whose certificate an organisation's own CA signed.",
    )
    smtp_username: str | None = Field(default=None, description="SMTP login, with the password.")
    smtp_password: str | None = Field(default=None, description="SMTP login, with the username.")
    dkim_selector: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$",
        description="With a key file, every mail is DKIM-signed (`appeals mail dns` prints "
        "the record to publish at <selector>._domainkey.<domain>).",
    )
    dkim_domain: str | None = Field(default=None, description="Default: mail_domain.")
    dkim_private_key_file: Path | None = Field(default=None, description="RSA key, PEM.")
    smtp_timeout_seconds: float = Field(default=30, gt=0, description="Per SMTP connection.")
    mail_domain: str = Field(
        default="appeals.invalid", description="Domain of the campaign, reply and bounce addresses."
    )
    campaign_mailbox: str = Field(default="campaign", description="Local part of the From address.")
    token_secret: str = Field(
        default="",
        description="Master secret (at least 32 characters) from which the keys of reply, bounce "
        "and form tokens and of supporter identities are derived (app/keys.py). Required by "
        "serve, worker and inbound; only `appeals demo` makes one of its own.",
    )
    token_secret_previous: list[str] = Field(
        default_factory=list,
        description="Earlier master secrets, still accepted when verifying reply, bounce and "
        "form tokens after a rotation (a JSON list). Never used to sign.",
    )
    retry_delays_minutes: list[int] = Field(
        default_factory=lambda: [2, 10, 30, 60, 120, 240, 480, 720],
        description="Waits between attempts after a temporary failure; the last one repeats.",
    )
    retry_give_up_days: float = Field(
        default=3, gt=0, description="A delivery failing temporarily for this long fails."
    )
    channel_pause_minutes: int = Field(
        default=15,
        ge=1,
        description="How long our own misconfiguration (a refused login, broken TLS, a "
        "missing return address) pauses a channel.",
    )
    lease_seconds: int = Field(default=300, ge=10, description="A claim's lease; sends end sooner.")
    worker_batch: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="E-mails a worker claims at once. Larger batches spend less on claiming "
        "(bench/dispatch.py: 50 -> 200 cut PostgreSQL's CPU per letter by a tenth); a worker "
        "that dies leaves its batch waiting for the lease to expire.",
    )
    run_worker: bool = Field(
        default=False, description="Run a delivery worker inside the server (the embedded setup)."
    )
    home_country: str | None = Field(
        default=None, description="ISO code; letters to other countries print the country line."
    )

    host: str = Field(default="127.0.0.1", description="The address serve listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="The port serve listens on.")
    public_url: str = Field(
        default="",
        description="Where supporters reach the site: the base of links in confirmation e-mails. "
        "Unset, it is http://<host>:<port> of this server; set it when a proxy or a domain is in "
        "front (https://appeals.example.org).",
    )
    _public_url_derived: bool = PrivateAttr(default=False)
    served_over_tls: bool = Field(
        default=False,
        description="HTTPS in front (e.g. a proxy): pages send HSTS and the staff cookies are "
        "Secure. Without it, a request counts as HTTPS when it came over TLS itself or carries "
        "X-Forwarded-Proto: https from one of `trusted_proxies`.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the reverse proxies in front, a JSON list "
        'such as ["127.0.0.1", "10.0.0.0/8"]. Only a request whose direct peer is one of '
        "them is believed about X-Forwarded-Proto (Secure cookies, our own origin) and "
        "X-Forwarded-For (the client address that sign-in limits count). Empty: no one is.",
    )

    # Public signing (app/signatures): abuse resistance and the confirmation e-mails.
    signing_min_fill_seconds: float = Field(
        default=3, ge=0, description="A form sent back sooner than this is treated as a bot."
    )
    signing_form_max_age_hours: int = Field(default=24, ge=1, description="Form token lifetime.")
    signing_rate_per_ip: str = Field(default="20/hour", description="`limits` notation.")
    signing_rate_per_email: str = Field(default="5/day", description="Signings per e-mail address.")
    signing_rate_per_campaign: str = Field(default="600/hour", description="Signings per campaign.")
    confirmation_mails_per_address_per_day: int = Field(
        default=3, ge=1, description="Confirmation mails to one address a day, whatever it signs."
    )
    confirmation_expiry_days: int = Field(default=7, ge=1, description="Confirmation links expire.")
    confirmation_reminder_hours: int = Field(default=24, ge=1, description="One reminder after.")
    embed_frame_ancestors: str = Field(
        default="*",
        pattern=r"^(?:'self'|[^\s;,'\"]+)(?: (?:'self'|[^\s;,'\"]+))*$",
        description="Sites that may frame the embeddable form (/c/{slug}/embed): CSP "
        "frame-ancestors sources, space-separated, e.g. 'https://partner.example "
        "https://*.ngo.example'; * lets any site. No other page may be framed.",
    )

    # Staff sign-in (app/staff): server-side sessions and login rate limits.
    staff_session_idle_minutes: int = Field(
        default=60, ge=1, description="A staff session unused this long ends."
    )
    staff_session_absolute_hours: int = Field(
        default=12, ge=1, description="A staff session ends this long after sign-in, used or not."
    )
    staff_login_rate_per_account: str = Field(
        default="5/15 minutes",
        description="Failed sign-ins per account from one client address (`limits` notation); "
        "other addresses are only slowed down (app/staff/ratelimit.py).",
    )
    staff_login_rate_per_ip: str = Field(
        default="20/15 minutes", description="Sign-in attempts per client address."
    )

    # Inbound mail (app/responses): replies, auto-replies and bounces.
    inbound_secret: str | None = Field(
        default=None,
        description="Bearer secret of POST /api/v1/inbound/email; unset: the endpoint answers "
        "503 (inbound mail not configured).",
    )
    inbound_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="A larger inbound message is refused (413)."
    )
    hard_bounces_before_suspect: int = Field(
        default=2, ge=1, description="Letters bounced for good before an address is suspect."
    )
    imap_host: str | None = Field(
        default=None, description="The mailbox server `appeals inbound imap` reads."
    )
    imap_port: int = Field(default=993, ge=1, le=65535, description="The mailbox server's port.")
    imap_tls: bool = Field(default=True, description="IMAP over TLS (port 993).")
    imap_starttls: bool = Field(default=False, description="Plain IMAP upgraded with STARTTLS.")
    imap_username: str | None = Field(default=None, description="The mailbox login.")
    imap_password: str | None = Field(default=None, description="The mailbox password.")
    imap_folder: str = Field(default="INBOX", description="The folder that is read.")
    imap_processed_folder: str = Field(
        default="Processed", description="Where processed mail is moved (never deleted)."
    )
    imap_poll_seconds: int = Field(default=60, ge=5, description="Wait between passes.")
    imap_timeout_seconds: float = Field(default=30, gt=0, description="Per IMAP connection.")

    holder_max_age_days: int = Field(
        default=365, ge=1, description="A holder not verified for longer is reported stale."
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve the worker's /metrics on this port."
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="The address the worker's metrics listen on."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="What the worker logs: DEBUG adds each failure's traceback."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: time, level, logger, message; json: one object a line."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        # A typo here would silently trust no one (or the wrong one): refuse it at start-up.
        for entry in value:
            ipaddress.ip_network(entry.strip(), strict=False)
        return [entry.strip() for entry in value]

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return database_url_with_driver(value)

    @model_validator(mode="after")
    def _derive_public_url(self) -> Settings:
        if not self.public_url:
            self.public_url = local_url(self.host, self.port)
            self._public_url_derived = True
        return self

    def served_at(self, host: str | None, port: int | None) -> Settings:
        """These settings for a server on `host`:`port` (the command line's, if given): links
        follow the port too, unless `public_url` was set."""
        host, port = host or self.host, port or self.port
        update: dict[str, object] = {"host": host, "port": port}
        if self._public_url_derived:
            update["public_url"] = local_url(host, port)
        return self.model_copy(update=update)

    @model_validator(mode="after")
    def _dkim_complete(self) -> Settings:
        if (self.dkim_selector is None) != (self.dkim_private_key_file is None):
            raise ValueError(
                "APPEALS_DKIM_SELECTOR and APPEALS_DKIM_PRIVATE_KEY_FILE go together: set both "
                "to sign mail, or neither"
            )
        return self

    @model_validator(mode="after")
    def _smtp_login_complete(self) -> Settings:
        # A user without a password (or the reverse) fails at the first letter, hours later.
        if (self.smtp_username is None) != (self.smtp_password is None):
            given, missing = (
                ("USERNAME", "PASSWORD") if self.smtp_password is None else ("PASSWORD", "USERNAME")
            )
            raise ValueError(
                f"APPEALS_SMTP_{given} is set but APPEALS_SMTP_{missing} is not: set both "
                "for an SMTP login, or neither"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'appeals.db').as_posix()}"


def tls_context(settings: Settings) -> ssl.SSLContext:
    """A client's TLS context: certificates and host names checked, against the system's CAs
    and `tls_ca_file` if set."""
    context = ssl.create_default_context()
    if settings.tls_ca_file is not None:
        context.load_verify_locations(cafile=settings.tls_ca_file)
    return context


def local_url(host: str, port: int) -> str:
    """The address of a server listening on host:port, as a browser on this machine reaches it."""
    # Listening on every address: this machine's own is the one a link can name.
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


# The async driver each backend is used with; a URL naming another (or none) is given this one.
_DRIVERS = {"postgresql": "asyncpg", "sqlite": "aiosqlite"}


def database_url_with_driver(value: str) -> str:
    """`value` with the async driver this service uses (`postgresql://` → `postgresql+asyncpg://`);
    ValueError naming the accepted forms if it is not a database URL at all. Empty stays empty
    (the embedded SQLite file)."""
    if not value:
        return value
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "not a database URL: expected postgresql://user@host:5432/name or "
            "sqlite:///path/to/file.db"
        ) from None
    backend = "postgresql" if url.get_backend_name() in ("postgres", "postgresql") else None
    backend = backend or url.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use PostgreSQL or SQLite")
    if url.drivername == f"{backend}+{_DRIVERS[backend]}":
        return value  # as written: nothing re-encoded
    return url.set(drivername=f"{backend}+{_DRIVERS[backend]}").render_as_string(
        hide_password=False
    )


class ConfigurationError(SystemExit):
    """Settings that cannot be used. Its text is one line per setting, naming the variable and
    what it must be; commands exit with status 2 and no stack trace."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def describe(exc: ValidationError) -> str:
    """`exc` as one line a person can act on: `APPEALS_SMTP_PORT: Input should be ...`."""
    problems = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"] if isinstance(part, str))
        message = error["msg"].removeprefix("Value error, ")
        # A check of several settings together names them in its message.
        problems.append(f"APPEALS_{name.upper()}: {message}" if name else message)
    return "; ".join(problems) + " (set in the environment or in .env)"


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        message = f"error: {describe(exc)}"
        sys.stderr.write(message + "\n")
        raise ConfigurationError(message) from None


def settings_of(request: Request) -> Settings:
    """The running app's settings (what `SettingsDep` gives a route)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(settings_of)]
