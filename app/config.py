"""Settings, read once from the environment (`APPEALS_` prefix) and passed down explicitly."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    database_echo: bool = False
    cases_dir: Path = PROJECT_ROOT / "cases"
    recipients_dir: Path = PROJECT_ROOT / "recipients"
    alembic_dir: Path = PROJECT_ROOT / "alembic"
    templates_dir: Path = PROJECT_ROOT / "letter_templates"
    default_language: str = Field(default="en", pattern=r"^[a-z]{2}$")

    organisation_name: str = Field(default="Appeals", description="Who runs the campaigns.")
    organisation_address: list[str] = Field(
        default_factory=list, description="Return address lines printed on posted letters."
    )
    pdf_layout: Literal["din5008_b", "din5008_a", "us10"] = Field(
        default="din5008_b", description="Window-envelope layout; US addresses use us10."
    )
    mail_transport: Literal["outbox", "smtp"] = Field(
        default="outbox", description="outbox writes .eml files to <var_dir>/outbox; smtp sends."
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    mail_domain: str = Field(
        default="appeals.invalid", description="Domain of the campaign, reply and bounce addresses."
    )
    campaign_mailbox: str = Field(default="campaign", description="Local part of the From address.")
    token_secret: str = Field(
        default="change-me-in-production", description="Signs reply and bounce tokens (HMAC)."
    )
    retry_delays_minutes: list[int] = Field(
        default_factory=lambda: [2, 10, 30, 60, 120, 240, 480, 720, 1440, 1440],
        description="Waits between attempts after a temporary failure; then it fails.",
    )
    lease_seconds: int = Field(default=300, ge=10)
    run_worker: bool = Field(
        default=False, description="Run a delivery worker inside the server (the embedded setup)."
    )
    home_country: str | None = Field(
        default=None, description="ISO code; letters to other countries print the country line."
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    holder_max_age_days: int = Field(
        default=365, ge=1, description="A holder not verified for longer is reported stale."
    )
    page_size_max: int = Field(default=200, ge=1)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'appeals.db').as_posix()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _settings_from_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings_from_app)]
