"""docs/configuration.md is the Settings model rendered (app/settings_docs.py), and up to date."""

from __future__ import annotations

import re

import pytest

from app import settings_docs
from app.config import Settings

PAGE = settings_docs.OUTPUT


class TestTheConfigurationPage:
    def test_is_the_model_rendered_now(self) -> None:
        assert PAGE.read_text(encoding="utf-8") == settings_docs.render(), (
            "docs/configuration.md is out of date: run `python -m app.settings_docs`"
        )

    def test_has_one_row_per_setting_and_no_other(self) -> None:
        listed = re.findall(
            r"^\| `(APPEALS_[A-Z0-9_]+)` \|", PAGE.read_text(encoding="utf-8"), re.M
        )
        assert listed == [f"APPEALS_{name.upper()}" for name in Settings.model_fields]

    def test_every_setting_says_what_it_does(self) -> None:
        missing = [name for name, field in Settings.model_fields.items() if not field.description]
        assert not missing, "add Field(description=...) in app/config.py"

    def test_no_secret_shows_a_value(self) -> None:
        secrets = [name for name in Settings.model_fields if settings_docs.is_secret(name)]
        assert {"token_secret", "smtp_password", "imap_password", "inbound_secret"} <= set(secrets)
        for name in secrets:
            shown = settings_docs.default_text(name)
            assert shown in ("(none)", "(generated)", "(set, not shown)")
            assert f"| `APPEALS_{name.upper()}` | " in settings_docs.row(name)


class TestDefaults:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, "(unset)"),
            ("", "(empty)"),
            (True, "`true`"),
            (30.0, "`30`"),
            ([2, 10], "`[2, 10]`"),
            ("5/day", "`5/day`"),
        ],
    )
    def test_are_written_as_in_the_environment(self, value: object, text: str) -> None:
        assert settings_docs.value_text(value) == text

    def test_shipped_paths_read_the_same_on_every_machine(self) -> None:
        assert settings_docs.default_text("cases_dir") == "`<shipped>/cases`"

    def test_the_prefix_is_the_models(self) -> None:
        assert Settings.model_config.get("env_prefix") == "APPEALS_"
        assert settings_docs.env_name("smtp_port") == "APPEALS_SMTP_PORT"

    def test_a_cell_cannot_break_the_table_or_become_html(self) -> None:
        assert settings_docs.cell("a | b\n <c> `<d>` *e*") == "a \\| b \\<c> `<d>` \\*e\\*"
