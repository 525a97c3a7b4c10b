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
