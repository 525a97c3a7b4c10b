"""Every channel kind has a name in words, in English and in Russian, and the public pages'
macro (public/_labels.html) says the same as app/recipients/channels.py."""

from __future__ import annotations

import pytest

from app.recipients import channels
from app.recipients.channels import ChannelKind
from app.web import i18n
from app.web.pages import templates

RUSSIAN = {
    ChannelKind.email: "электронная почта",
    ChannelKind.postal: "почта",
    ChannelKind.phone: "телефон",
    ChannelKind.web_form: "веб-форма",
}


class TestLabel:
    def test_every_kind_is_named_in_words(self) -> None:
        assert {k: channels.label(k) for k in ChannelKind} == {
            ChannelKind.email: "e-mail",
            ChannelKind.postal: "post",
            ChannelKind.phone: "phone",
            ChannelKind.web_form: "web form",
        }

    def test_in_russian(self) -> None:
        with i18n.using("ru"):
            assert {k: channels.label(k) for k in ChannelKind} == RUSSIAN

    @pytest.mark.parametrize("language", ["en", "ru"])
    def test_the_pages_macro_says_the_same(self, language: str) -> None:
        macro = templates.env.from_string(
            '{% import "public/_labels.html" as labels %}{{ labels.channel(kind) }}'
        )
        with i18n.using(language):
            for kind in ChannelKind:
                assert macro.render(kind=kind.value) == channels.label(kind)
                assert "_" not in channels.label(kind)
