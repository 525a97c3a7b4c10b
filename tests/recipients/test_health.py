from datetime import date

from app.recipients.channels import ChannelKind
from app.recipients.health import OfficeStatus, channel_problem, office_health
from app.recipients.models import Recipient, RecipientChannel

TODAY = date(2026, 11, 25)


def _office(*channels: RecipientChannel, verified: date | None = TODAY) -> Recipient:
    return Recipient(
        id="office",
        office="An Office",
        holder="Someone",
        holder_verified_on=verified,
        channels=list(channels),
    )


def _channel(kind: ChannelKind, **fields: object) -> RecipientChannel:
    channel = RecipientChannel(kind=kind, source="test", **{"obfuscated": False, **fields})
    channel.id = 1
    return channel


class TestChannelProblem:
    def test_reasons(self) -> None:
        assert "obfuscated" in (channel_problem(_channel(ChannelKind.email, obfuscated=True)) or "")
        assert channel_problem(_channel(ChannelKind.email, value="a@b.example")) is None
        assert (
            channel_problem(_channel(ChannelKind.postal, lines=[], country="BE"))
            == "no address lines"
        )
        assert channel_problem(_channel(ChannelKind.postal, lines=["1 Street"], country=None))
        assert channel_problem(_channel(ChannelKind.web_form, value="https://form.example")) is None
        assert "phone" in (channel_problem(_channel(ChannelKind.phone, value="+32 2 1")) or "")
        disabled = _channel(ChannelKind.email, value="a@b.example", disabled_reason="bounced")
        assert channel_problem(disabled) == "disabled by staff: bounced"


class TestOfficeHealth:
    def test_an_office_with_only_an_obfuscated_email_is_unreachable(self) -> None:
        health = office_health(
            _office(
                _channel(ChannelKind.email, obfuscated=True),
                _channel(ChannelKind.phone, value="+1 2"),
            ),
            today=TODAY,
            max_age_days=365,
        )
        assert health.status is OfficeStatus.unreachable
        assert [c.kind for c in health.unusable] == [ChannelKind.email]  # phones are not listed

    def test_a_web_form_only_office_is_reachable_with_a_warning(self) -> None:
        health = office_health(
            _office(_channel(ChannelKind.web_form, value="https://form.example")),
            today=TODAY,
            max_age_days=365,
        )
        assert health.status is OfficeStatus.warning
        assert any("web form only" in w for w in health.warnings)

    def test_a_holder_is_stale_after_the_configured_age(self) -> None:
        channels = (
            _channel(ChannelKind.email, value="a@b.example"),
            _channel(ChannelKind.postal, lines=["1 Street", "1000 City"], country="BE"),
        )
        fresh = office_health(
            _office(*channels, verified=date(2026, 1, 1)), today=TODAY, max_age_days=365
        )
        assert fresh.status is OfficeStatus.ok
        assert not fresh.holder_stale
        stale = office_health(
            _office(*channels, verified=date(2026, 1, 1)), today=TODAY, max_age_days=30
        )
        assert stale.holder_stale
        assert stale.status is OfficeStatus.warning
