"""The kinds of channel an office can be reached by, and so the channels a letter can go by.

Every domain that routes, sends, counts or shows a letter speaks of its channel with these names;
the directory files (`files.py`) and the recipients' stored channels (`models.py`) use them too.
E-mail and post are carried by workers; a web form and the telephone are work people do by hand
(a task per letter).
"""

from __future__ import annotations

from enum import StrEnum


class ChannelKind(StrEnum):
    email = "email"
    postal = "postal"
    phone = "phone"
    web_form = "web_form"
