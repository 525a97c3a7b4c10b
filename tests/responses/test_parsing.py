"""Classifying and reading inbound mail: real Postfix DSNs, Exchange and Gmail formats, replies."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.delivery.email import delivery_token, legacy_delivery_token
from app.responses.matching import thread_ids, token_delivery_ids, tokens_in
from app.responses.mime import headers_only, new_text
from app.responses.models import InboundKind, ResponseKind
from app.responses.parsing import auto_reply_reason, parse
from app.responses.suggest import suggest_kind
from tests.responses.conftest import sample

LETTER_ID = "<delivery-4242.5415ad171cfd1bf2158c@appeals.invalid>"


class TestBounces:
    @pytest.mark.parametrize(
        ("name", "status", "code"),
        [
            ("postfix-hard-bounce.eml", "5.1.1", 550),
            ("exchange-ndr.eml", "5.1.10", 550),
            ("gmail-bounce.eml", "5.1.1", 550),
        ],
    )
    def test_an_rfc3464_report_gives_the_failed_recipient_and_its_status(
        self, name: str, status: str, code: int
    ) -> None:
        parsed = parse(sample(name))
        assert parsed.kind is InboundKind.bounce
        assert parsed.bounce is not None and parsed.bounce.standard
        [failure] = parsed.bounce.failures
        assert failure.recipient == "president@pace.example"
        assert failure.action == "failed"
        assert failure.status == status
        assert failure.hard
        assert failure.smtp_code == code
        assert parsed.bounce.original_message_id == LETTER_ID

    def test_postfix_keeps_the_remote_servers_words_unfolded(self) -> None:
        parsed = parse(sample("postfix-hard-bounce.eml"))
        assert parsed.bounce is not None
        assert parsed.bounce.recipients[0].diagnostic == (
            "smtp; 550 5.1.1 <president@pace.example>: Recipient address rejected: "
            "User unknown in virtual mailbox table"
        )
        assert parsed.bounce.reporting_mta == "mx.postfix-test.invalid"

    def test_a_postfix_delay_warning_is_a_soft_bounce(self) -> None:
        parsed = parse(sample("postfix-delayed.eml"))
        assert parsed.kind is InboundKind.bounce
        assert parsed.bounce is not None
        [block] = parsed.bounce.recipients
        assert (block.action, block.status, block.hard) == ("delayed", "4.2.2", False)
        assert block.smtp_code == 452

    def test_a_qmail_bounce_without_a_report_is_found_by_flufl_bounce(self) -> None:
        parsed = parse(sample("qmail-bounce.eml"))
        assert parsed.kind is InboundKind.bounce
        assert parsed.bounce is not None and not parsed.bounce.standard
        [block] = parsed.bounce.recipients
        assert block.recipient == "president@pace.example"
        assert block.hard and block.status == "5.1.1"

    def test_a_bounce_is_not_an_auto_reply_although_it_says_auto_replied(self) -> None:
        # Postfix and Gmail mark their DSNs "Auto-Submitted: auto-replied".
        parsed = parse(sample("postfix-hard-bounce.eml"))
        assert parsed.kind is InboundKind.bounce
        assert parsed.auto_reason is None


class TestAutoReplies:
    def test_exchange_out_of_office(self) -> None:
        parsed = parse(sample("exchange-auto-reply.eml"))
        assert parsed.kind is InboundKind.auto_reply
        assert parsed.auto_reason == "Auto-Submitted: auto-generated"

    def test_gmail_vacation_with_a_subject_of_its_own(self) -> None:
        parsed = parse(sample("gmail-vacation.eml"))
        assert parsed.kind is InboundKind.auto_reply
        assert "I am away from the office" in parsed.text

    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            ("X-Autoreply: yes", "X-Autoreply: yes"),
            ("X-Autorespond: Out of office", "X-Autorespond: Out of office"),
            ("Precedence: auto_reply", "Precedence: auto_reply"),
            ("Precedence: bulk", "Precedence: bulk"),
            ("X-MS-Exchange-Inbox-Rules-Loop: x@pace.example", "X-MS-Exchange-Inbox-Rules-Loop"),
        ],
    )
    def test_vendor_headers_without_auto_submitted(self, headers: str, reason: str) -> None:
        raw = f"From: x@pace.example\nSubject: Re: Appeal\n{headers}\n\nAway.\n".encode()
        parsed = parse(raw)
        assert parsed.kind is InboundKind.auto_reply
        assert parsed.auto_reason is not None and parsed.auto_reason.startswith(reason)

    def test_an_automatic_reply_subject_alone_is_enough(self) -> None:
        parsed = parse(b"From: x@pace.example\nSubject: Automatic reply: Appeal\n\nAway.\n")
        assert parsed.kind is InboundKind.auto_reply

    def test_auto_submitted_no_is_a_person(self) -> None:
        raw = b"From: x@pace.example\nAuto-Submitted: no\nSubject: Re: Appeal\n\nYes.\n"
        assert auto_reply_reason(headers_only(raw)) is None
        assert parse(raw).kind is InboundKind.reply


class TestReplies:
    def test_a_plain_reply_quoting_the_letter(self) -> None:
        parsed = parse(sample("reply-quoting-letter.eml"))
        assert parsed.kind is InboundKind.reply
        assert parsed.from_address == "private.office@pace.example"
        assert parsed.from_name == "Private Office of the President"
        assert parsed.in_reply_to == (LETTER_ID,)
        assert parsed.excerpt.startswith("Dear Ms Lovelace,")
        assert parsed.excerpt.endswith("Private Office of the President")
        assert "I am writing about" not in parsed.excerpt  # the quoted letter is left out
        assert "Élise Martin" in parsed.excerpt
        assert suggest_kind(parsed.excerpt) is ResponseKind.acknowledgement

    @pytest.mark.parametrize(
        "attribution",
        [
            "On Wed, 2 Dec 2026 at 10:41, Someone <a@b.example> wrote:",
            "Le 2 déc. 2026 à 10:41, Quelqu'un a écrit :",
            "-----Original Message-----",
            "________________________________",
        ],
    )
    def test_the_quoted_letter_is_cut_at_its_attribution(self, attribution: str) -> None:
        text = f"Noted, thank you.\n\n{attribution}\nthe letter\n"
        assert new_text(text) == "Noted, thank you."

    def test_an_inline_answer_keeps_the_text_between_quotes(self) -> None:
        assert new_text("> Will you raise the case?\nYes, in March.\n> Thanks") == "Yes, in March."

    def test_an_html_only_reply_is_read_as_text(self) -> None:
        raw = (
            b"From: x@pace.example\nSubject: Re: Appeal\nContent-Type: text/html\n\n"
            b"<html><head><style>p{}</style></head><body><p>We will&nbsp;raise it.</p>"
            b"<script>x()</script></body></html>\n"
        )
        assert parse(raw).text == "We will raise it."

    def test_malformed_mail_is_read_without_raising(self) -> None:
        raw = (
            b"From: <<<@>>>\nTo: ,,,\nDate: yesterday\n"
            b"Content-Type: text/plain; charset=x-nope\n\n\xff\xfe"
        )
        parsed = parse(raw)
        assert parsed.kind is InboundKind.reply
        assert parsed.date is None


class TestMatchingKeys:
    def test_tokens_are_read_from_reply_and_bounce_addresses(self) -> None:
        addresses = ["Reply+12.ABCDEF0123456789abcd@appeals.invalid", "someone@else.example"]
        assert tokens_in(addresses) == ["12.abcdef0123456789abcd"]

    def test_only_a_genuinely_signed_token_names_a_delivery(self) -> None:
        secret = Settings().token_secret
        signature = legacy_delivery_token(4242, secret).partition(".")[2]
        good = f"bounce+4242.{signature}@appeals.invalid"
        forged = f"bounce+4243.{signature}@appeals.invalid"
        assert token_delivery_ids([good, forged], secret=secret) == [4242]
        assert token_delivery_ids([good], secret="another secret") == []

    def test_a_token_signed_before_a_rotation_still_names_its_delivery(self) -> None:
        old, new = "o" * 40, "n" * 40
        before = f"reply+{delivery_token(7, old)}@appeals.invalid"
        assert token_delivery_ids([before], secret=new) == []
        assert token_delivery_ids([before], secret=new, previous=[old]) == [7]
        assert delivery_token(7, new) != delivery_token(7, old)

    def test_the_published_default_no_longer_forges_a_reply(self) -> None:
        """The token an attacker makes from the source code's old default names nothing."""
        forged = f"reply+{delivery_token(1, 'change-me-in-production')}@appeals.invalid"
        assert token_delivery_ids([forged], secret=Settings().token_secret) == []

    def test_a_bounce_offers_the_returned_letters_message_id_first(self) -> None:
        parsed = parse(sample("postfix-hard-bounce.eml"))
        assert thread_ids(parsed) == [LETTER_ID]


class TestSuggestions:
    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("We are not in a position to comment on individual cases.", ResponseKind.refusal),
            ("Your letter has been forwarded to the Rapporteur.", ResponseKind.forwarded),
            ("Nous accusons réception de votre courrier.", ResponseKind.acknowledgement),
            (
                "Thank you for your letter. " + "The President raised it. " * 40,
                ResponseKind.substantive,
            ),
            ("Ok.", None),
        ],
    )
    def test_the_wording_suggests_a_kind(self, text: str, kind: ResponseKind | None) -> None:
        assert suggest_kind(text) is kind
