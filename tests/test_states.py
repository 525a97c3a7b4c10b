"""The state machines: one `Machine` over each status enum, one error for a refused move.

The machine itself is pure; the last class runs the real application to show that a move any
machine refuses reaches the API as a 409 with `"error": "IllegalTransition"`.
"""

from __future__ import annotations

from enum import StrEnum

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import MACHINE as CAMPAIGN
from app.campaigns.models import CampaignStatus
from app.delivery.models import MACHINES, DeliveryStatus
from app.errors import Conflict
from app.recipients.channels import ChannelKind
from app.responses.models import INBOUND_MACHINE, InboundStatus
from app.signatures.models import MACHINE as SIGNATURE
from app.signatures.models import SignatureStatus
from app.staff.models import Role
from app.states import IllegalTransition, Machine
from tests.factories import bearer, make_staff


class Light(StrEnum):
    red = "red"
    green = "green"
    amber = "amber"
    off = "off"


LIGHT = Machine(
    "a traffic light",
    {
        Light.red: frozenset({Light.green}),
        Light.green: frozenset({Light.amber}),
        Light.amber: frozenset({Light.red}),
    },
)


class TestAllows:
    def test_a_move_written_down_is_allowed(self) -> None:
        assert LIGHT.allows(Light.red, Light.green)

    def test_a_move_not_written_down_is_not(self) -> None:
        assert not LIGHT.allows(Light.red, Light.amber)

    def test_nothing_leaves_a_state_the_machine_does_not_list(self) -> None:
        assert not LIGHT.allows(Light.off, Light.red)
        assert LIGHT.allowed(Light.off) == frozenset()


class TestCheck:
    def test_an_allowed_move_passes(self) -> None:
        LIGHT.check(Light.green, Light.amber)

    def test_a_refused_move_is_an_illegal_transition_a_409_conflict(self) -> None:
        with pytest.raises(IllegalTransition) as refused:
            LIGHT.check(Light.green, Light.red)
        assert isinstance(refused.value, Conflict)
        assert (refused.value.status, refused.value.kind) == (409, "IllegalTransition")
        assert refused.value.detail == "a traffic light cannot go from green to red"

    def test_the_caller_may_say_what_was_refused(self) -> None:
        with pytest.raises(IllegalTransition, match=r"^the light is stuck$"):
            LIGHT.check(Light.amber, Light.green, what="the light is stuck")


class TestMachine:
    def test_a_move_to_a_state_with_no_entry_is_refused_when_declared(self) -> None:
        with pytest.raises(ValueError, match="a lamp: moves lead to states with no entry: off"):
            Machine("a lamp", {Light.red: frozenset({Light.off})})


class TestTheDomainsMachines:
    def test_each_delivery_channel_has_its_own_machine(self) -> None:
        assert MACHINES[ChannelKind.postal].allows(DeliveryStatus.printed, DeliveryStatus.posted)
        assert not MACHINES[ChannelKind.email].allows(DeliveryStatus.printed, DeliveryStatus.posted)
        with pytest.raises(IllegalTransition, match=r"^a web_form delivery cannot go from open"):
            MACHINES[ChannelKind.web_form].check(DeliveryStatus.open, DeliveryStatus.sent)

    def test_signatures_campaigns_and_inbound_messages_declare_theirs(self) -> None:
        assert SIGNATURE.allows(SignatureStatus.pending, SignatureStatus.confirmed)
        assert not SIGNATURE.allows(SignatureStatus.withdrawn, SignatureStatus.confirmed)
        assert CAMPAIGN.allowed(CampaignStatus.closed) == frozenset()
        assert INBOUND_MACHINE.allows(InboundStatus.ignored, InboundStatus.unmatched)
        assert not INBOUND_MACHINE.allows(InboundStatus.failed, InboundStatus.matched)


class TestTheApi:
    async def test_a_refused_campaign_move_is_a_409_illegal_transition(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        created = await client.post(
            "/api/v1/campaigns",
            json={
                "slug": "machine-test",
                "title": "A campaign that stays a draft",
                "cases": ["bokayev-ayan"],
                "targets": {"recipients": ["pace-president"]},
                "template": "individual-appeal",
                "channel_preference": ["email"],
            },
            headers=bearer(token),
        )
        assert created.status_code == 201
        paused = await client.patch(
            "/api/v1/campaigns/machine-test", json={"status": "paused"}, headers=bearer(token)
        )
        assert paused.status_code == 409
        assert paused.json() == {
            "error": "IllegalTransition",
            "detail": "a draft campaign cannot become paused (allowed: closed, open)",
        }
