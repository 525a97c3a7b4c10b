"""The kinds of channel an office can be reached by, and so the channels a letter can go by.

Every domain that routes, sends, counts or shows a letter speaks of its channel with these names;
the directory files (`files.py`) and the recipients' stored channels (`models.py`) use them too.
E-mail and post are carried by workers; a web form and the telephone are work people do by hand
(a task per letter). `label` names each kind in words, in the page's language.
"""

from __future__ import annotations

from enum import StrEnum

from app.web import i18n


class ChannelKind(StrEnum):
    email = "email"
    postal = "postal"
    phone = "phone"
    web_form = "web_form"


def N_(message: str) -> str:
    """Marks a message for the catalogue (pybabel's default keyword); translated when shown."""
    return message


# The name of each channel in words, as every page shows it (public/_labels.html says the same).
LABELS: dict[ChannelKind, str] = {
    ChannelKind.email: N_("e-mail"),
    ChannelKind.postal: N_("post"),
    ChannelKind.phone: N_("phone"),
    ChannelKind.web_form: N_("web form"),
}


def label(kind: ChannelKind | str) -> str:
    """The channel's name in words, in the language of the page being rendered."""
    return i18n.gettext(LABELS[ChannelKind(kind)])
