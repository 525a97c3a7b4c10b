"""A campaign's mode decides how supporters' letters are made: one letter each (`letters`) or
one digest per office per period (`digest`); asking a campaign for the other kind is refused."""

from __future__ import annotations

from app.errors import Conflict


class WrongCampaignMode(Conflict):
    kind = "WrongCampaignMode"
