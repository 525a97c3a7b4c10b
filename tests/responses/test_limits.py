"""Inbound mail that must not knock the pipeline over: nested thousands deep, thousands of parts
or header fields, hostile header values and HTML.

`measure` counts, before the stdlib parses anything, what the parser would build; it is checked
against the parser itself on every message under tests/. Past a limit a message is stored
`failed` with the reason, answered 200, shown in the review inbox (English and Russian), and
never processed again: not by the MTA's retry, the IMAP poller or `appeals inbound eml`.
"""

from __future__ import annotations

import email
import logging
import re
import time
from collections.abc import AsyncIterator
from email import policy
from email.message import Message
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.responses import imap, mime, parsing, service, structure
from app.responses.limits import MAX_DEPTH, MAX_HEADERS, MAX_PARTS, Unparseable
from app.responses.models import InboundKind, InboundMessage, InboundStatus
from tests.delivery.test_worker import queued, smtp, the_delivery
from tests.factories import bearer, make_staff
from tests.responses.conftest import sample
from tests.responses.fake_imap import FakeImap
from tests.responses.test_imap import imap_settings
from tests.responses.test_inbound import post_mail
from tests.staff.signin import signed_in
from tests.test_cli import Appeals, appeals, cli_env

__all__ = ["appeals", "cli_env", "queued", "smtp"]

HEAD = (
    b"From: Someone <someone@example.org>\nTo: campaign@appeals.invalid\n"
    b"Subject: Deep\nMessage-ID: <deep@example.org>\n"
)


def nested_multipart(levels: int) -> bytes:
    """`levels` multiparts one inside the other, each with a boundary of its own."""
    return (
        HEAD
        + b"".join(
            b"Content-Type:multipart/mixed;boundary=%x\n\n--%x\n" % (i, i) for i in range(levels)
        )
        + b"\nhello\n"
    )


def nested_messages(levels: int) -> bytes:
    """`levels` message/rfc822 parts one inside the other (29 bytes a level)."""
    return HEAD + b"Content-Type:message/rfc822\n\n" * levels + b"\nhello\n"


def many_parts(parts: int) -> bytes:
    return (
        HEAD + b"Content-Type: multipart/mixed; boundary=b\n\n" + b"--b\n\nx\n" * parts + b"--b--\n"
    )


def many_headers(fields: int) -> bytes:
    return HEAD + b"X-Filler: x\n" * fields + b"\nhello\n"


def shape(message: Message, level: int = 0) -> tuple[int, int]:
    """(parts, depth) of what the stdlib built: every Message object, and how deep."""
    payload = message.get_payload()
    parts, depth = 1, level
    if isinstance(payload, list):
        for sub in payload:
            sub_parts, sub_depth = shape(sub, level + 1)
            parts, depth = parts + sub_parts, max(depth, sub_depth)
    return parts, depth


ODD_STRUCTURES = {
    "digest parts are messages": (
        b"From: a@x\nContent-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: b@x\n\nhi\n"
        b"--d\nContent-Type: text/plain\n\nx\n--d--\n"
    ),
    "a boundary line that looks like a header": (
        b'From: a@x\nContent-Type: multipart/mixed; boundary="a:b"\n\n--a:b\n'
        b"Content-Type: multipart/mixed; boundary=c\n--a:b\n\nx\n--a:b--\n"
    ),
    "lines ended by CR alone": (
        b"From: a@x\rContent-Type: multipart/mixed; boundary=b\r\r--b\r"
        b"Content-Type: message/rfc822\r\rSubject: x\r\rhi\r--b--\r"
    ),
    "an outer boundary ends the inner multipart": (
        b"From: a@x\nContent-Type: multipart/mixed; boundary=o\n\n--o\n"
        b"Content-Type: multipart/mixed; boundary=i\n\n--i\n\nin\n--o\n\nsecond\n--o--\n"
    ),
    "a boundary in RFC 2231 pieces": (
        b"From: a@x\nContent-Type: multipart/mixed; boundary*0=ab; boundary*1=cd\n\n"
        b"--abcd\n\nz\n--abcd--\n"
    ),
    "a delivery report's blocks": (
        b"From: a@x\nContent-Type: message/delivery-status\n\nReporting-MTA: x\n\n"
        b"Final-Recipient: rfc822; a@b\nAction: failed\n\n\nFinal-Recipient: rfc822; c@d\n"
    ),
    "repeated boundary lines": (
        b"From: a@x\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\n--b\n--b--\n--b\n\nx\n--b--\n"
    ),
}


class TestMeasure:
    @pytest.mark.parametrize(
        "path",
        sorted(Path(__file__).parent.rglob("*.eml")),
        ids=lambda p: p.name,
    )
    def test_it_counts_what_the_parser_builds_from_real_mail(self, path: Path) -> None:
        raw = path.read_bytes()
        found = structure.measure(raw)
        assert (found.parts, found.depth) == shape(
            email.message_from_bytes(raw, policy=policy.default)
        )

    @pytest.mark.parametrize("name", list(ODD_STRUCTURES))
    def test_it_follows_the_parser_through_odd_structures(self, name: str) -> None:
        raw = ODD_STRUCTURES[name]
        found = structure.measure(raw)
        assert (found.parts, found.depth) == shape(
            email.message_from_bytes(raw, policy=policy.default)
        )

    def test_3000_nested_multiparts_say_how_deep_in_english_and_russian(self) -> None:
        raw = nested_multipart(3000)
        with pytest.raises(Unparseable) as caught:
            structure.measure(raw)
        assert caught.value.reason.startswith("nested 3,000 levels deep (limit 50); 3,001 parts")
        assert caught.value.reason_ru.startswith("глубина вложенности: 3\u00a0000 (предел: 50)")

    def test_message_rfc822_nested_deep_is_counted_too(self) -> None:
        raw = nested_messages(3000)
        assert len(raw) < 100_000
        with pytest.raises(Unparseable, match=r"^nested 3,000 levels deep \(limit 50\)"):
            structure.measure(raw)

    @pytest.mark.parametrize(
        ("within", "past", "reason"),
        [
            (nested_multipart(MAX_DEPTH), nested_multipart(MAX_DEPTH + 1), "nested 51 levels deep"),
            (nested_messages(MAX_DEPTH), nested_messages(MAX_DEPTH + 1), "nested 51 levels deep"),
            (many_parts(MAX_PARTS - 1), many_parts(MAX_PARTS), "501 parts (limit 500)"),
            (
                many_headers(MAX_HEADERS - 4),
                many_headers(MAX_HEADERS - 3),
                "1,001 header fields in one block (limit 1,000)",
            ),
        ],
        ids=["multipart depth", "message depth", "parts", "header fields"],
    )
    def test_a_limit_is_reached_not_passed(self, within: bytes, past: bytes, reason: str) -> None:
        mime.as_email(within)  # at the limit: read
        with pytest.raises(Unparseable, match=re.escape(reason)):
            mime.as_email(past)

    def test_a_content_type_field_is_measured_whole(self) -> None:
        raw = HEAD + b"Content-Type: text/plain;" + b" a=b;" * 2000 + b"\n\nhi\n"
        with pytest.raises(Unparseable, match=r"a Content-Type field of 10,0\d\d bytes"):
            structure.measure(raw)

    def test_short_lines_deep_inside_multiparts_cost_too_many_tests(self) -> None:
        levels = b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(40)
        )
        raw = HEAD + levels + b"\n" + b"\n" * 300_000
        with pytest.raises(Unparseable, match=r"12,00\d,\d+ boundary tests to read it"):
            structure.measure(raw)

    def test_counting_stops_in_time_and_says_at_least(self) -> None:
        raw = many_parts(200_000)
        started = time.perf_counter()
        with pytest.raises(Unparseable, match=r"^at least 5,000 parts \(limit 500\)$"):
            structure.measure(raw)
        assert time.perf_counter() - started < 5  # the stdlib took 20 s on these 1.4 MB


class TestParse:
    def test_a_normal_message_reads_as_before(self) -> None:
        raw = sample("reply-quoting-letter.eml")
        found = structure.measure(raw)
        assert found.depth <= 2 and found.parts <= 5
        parsed = parsing.parse(raw)
        assert parsed.kind is InboundKind.reply
        assert parsed.from_address == "private.office@pace.example"
        assert parsed.excerpt.startswith("Dear Ms Lovelace")

    def test_too_deep_is_unparseable_not_a_recursion_error(self) -> None:
        with pytest.raises(Unparseable, match="nested 3,000 levels deep"):
            parsing.parse(nested_multipart(3000))

    def test_whatever_fails_while_reading_is_unparseable_and_logged(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(*args: object) -> None:
            raise ValueError("a detector choked")

        monkeypatch.setattr(parsing.bounces, "detect", broken)
        failed = pytest.raises(Unparseable, match=r"^the mail parser failed \(ValueError\)$")
        with caplog.at_level(logging.WARNING, logger="app.responses.parsing"), failed:
            parsing.parse(sample("reply-quoting-letter.eml"))
        assert "could not be read" in caplog.text

    def test_comments_nested_a_thousand_deep_in_from_do_not_escape(self) -> None:
        raw = b"From: " + b"(" * 5000 + b"\nSubject: x\n\nhello\n"
        headers = mime.headers_only(raw)
        assert mime.sender(headers) == ("", "")
        try:  # read without a sender, or Unparseable: never a RecursionError
            parsed = parsing.parse(raw)
        except Unparseable:
            return
        assert parsed.from_address is None


class TestHeaders:
    def test_a_long_value_is_read_as_it_came_not_parsed(self) -> None:
        raw = b"From: " + b"a@b.example, " * 80_000 + b"\nSubject: x\n\nhi\n"  # 1 MB
        started = time.perf_counter()
        _name, address = mime.sender(mime.headers_only(raw))
        assert address == "a@b.example"
        assert time.perf_counter() - started < 5  # parsed, it took two minutes

    def test_headers_only_stops_at_the_limit(self) -> None:
        headers = mime.headers_only(many_headers(5000))
        assert len(headers) == MAX_HEADERS
        assert mime.header(headers, "Subject") == "Deep"


class TestHtmlToText:
    @pytest.mark.parametrize(
        "markup", ["<a " * 70_000, "<!--x>" * 35_000, "<![CDATA[x>" * 20_000, "</" * 100_000]
    )
    def test_unclosed_tags_and_comments_are_read_in_linear_time(self, markup: str) -> None:
        started = time.perf_counter()
        mime.html_to_text(markup)
        assert time.perf_counter() - started < 2  # HTMLParser took minutes on some of these

    def test_a_huge_character_reference_is_a_replacement_character(self) -> None:
        assert mime.html_to_text("<p>a&#" + "9" * 5000 + ";b</p>") == "a\ufffdb"

    def test_ordinary_html_reads_as_it_did(self) -> None:
        markup = (
            "<html><head><title>t</title><style>p{}</style></head><body><!-- note -->"
            '<div>Dear <b>Ms</b>&nbsp;Lovelace,</div><p title="a>b">We will&nbsp;raise it.'
            "<br>Regards</p><script>x()</script></body></html>"
        )
        assert mime.html_to_text(markup) == "Dear Ms Lovelace,\n\nWe will raise it.\nRegards"


@pytest.fixture
async def imap_server() -> AsyncIterator[FakeImap]:
    fake = FakeImap(capabilities=("IMAP4rev1", "MOVE"))
    yield fake
    await fake.stop()


class TestUnreadableMail:
    async def test_3000_levels_deep_is_stored_failed_answered_200_and_never_redone(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        raw = nested_multipart(3000)
        answered = await post_mail(client, raw)
        assert answered.status_code == 200, answered.text
        result = answered.json()
        assert (result["status"], result["kind"], result["duplicate"]) == ("failed", None, False)
        assert result["detail"].startswith("could not be read: nested 3,000 levels deep (limit 50)")
        assert (result["from_address"], result["subject"]) == ("someone@example.org", "Deep")

        session.expire_all()
        stored = await session.get(InboundMessage, result["id"])
        assert stored is not None and stored.status is InboundStatus.failed
        assert stored.raw == raw and stored.processed_at is not None

        # Taken up again (the MTA's retry, a reprocess pass), it is left as it is.
        again = await post_mail(client, raw)
        assert (again.json()["status"], again.json()["duplicate"]) == ("failed", True)
        outcome = await service.process(session, message=stored, settings=settings)
        assert outcome.duplicate and outcome.message.detail == result["detail"]

        _, token = await make_staff(session)
        detail = await client.get(f"/api/v1/inbound/{result['id']}", headers=bearer(token))
        assert detail.status_code == 200
        assert detail.json()["text"] == ""
        assert detail.json()["unreadable"].startswith("nested 3,000 levels deep (limit 50)")
        listed = await client.get("/api/v1/inbound?status=failed", headers=bearer(token))
        assert [m["id"] for m in listed.json()["items"]] == [result["id"]]
        # Nothing can be matched or reviewed in it, and that is a 409, not a 500.
        matched = await client.post(
            f"/api/v1/inbound/{result['id']}/match", json={"delivery_id": 1}, headers=bearer(token)
        )
        assert matched.status_code in (404, 409)
        reviewed = await client.post(
            f"/api/v1/inbound/{result['id']}/review", json={"ignored": True}, headers=bearer(token)
        )
        assert reviewed.status_code == 409

        await signed_in(client, session)
        page = await client.get("/staff/inbound?status=failed")
        assert page.status_code == 200
        assert "Could not be read: nested 3,000 levels deep (limit 50)" in page.text
        assert "Не удалось прочитать: глубина вложенности: 3\u00a0000 (предел: 50)" in page.text
        assert f'id="m{result["id"]}"' in page.text
        inbox = await client.get("/staff/inbound")
        assert inbox.status_code == 200
        assert 'href="/staff/inbound?status=failed">Unreadable messages</a> (1)' in inbox.text

    async def test_a_message_left_received_before_the_limits_is_readable_then_fails(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        raw = nested_multipart(1500)
        # How such a message was left: stored, then processing answered 500.
        message, _ = await service.store(
            session, raw=raw, source="api", envelope_to=None, max_bytes=settings.inbound_max_bytes
        )
        await session.commit()
        _, token = await make_staff(session)
        detail = await client.get(f"/api/v1/inbound/{message.id}", headers=bearer(token))
        assert detail.status_code == 200
        assert detail.json()["status"] == "received"
        assert detail.json()["unreadable"].startswith("nested 1,500 levels deep")
        await signed_in(client, session)
        page = await client.get("/staff/inbound?status=received")
        assert page.status_code == 200
        assert "Could not be read: nested 1,500 levels deep (limit 50)" in page.text

        retried = await post_mail(client, raw)  # the MTA tries again: now it is done
        assert retried.status_code == 200
        assert (retried.json()["id"], retried.json()["status"]) == (message.id, "failed")

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            (many_headers(20_000), "20,004 header fields in one block (limit 1,000)"),
            (many_parts(2_000), "2,001 parts (limit 500)"),
            (nested_messages(3000), "nested 3,000 levels deep (limit 50)"),
            (
                HEAD + b"Content-Type: text/plain;" + b";" * 100_000 + b"\n\nx\n",
                "a Content-Type field",
            ),
        ],
        ids=["header fields", "parts", "message/rfc822 depth", "long Content-Type"],
    )
    async def test_past_any_limit_is_failed_with_its_reason(
        self, client: httpx.AsyncClient, raw: bytes, reason: str
    ) -> None:
        answered = await post_mail(client, raw)
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "failed"
        assert reason in answered.json()["detail"]

    async def test_a_hostile_from_header_is_stored_and_answered(
        self, client: httpx.AsyncClient
    ) -> None:
        for raw in (
            b"From: " + b"(" * 5000 + b"\nSubject: parens\n\nhello\n",
            b"From: " + b"a@b.example, " * 80_000 + b"\nSubject: long\n\nhello\n",
        ):
            answered = await post_mail(client, raw)
            assert answered.status_code == 200, answered.text
            assert answered.json()["status"] in ("failed", "unmatched")

    async def test_the_imap_poller_moves_it_instead_of_retrying_it(
        self,
        imap_server: FakeImap,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        imap_server.deliver(nested_multipart(3000))
        result = await imap.poll_once(sessionmaker, await imap_settings(settings, imap_server))
        assert (result.moved, result.failed) == (1, [])
        assert imap_server.folders["INBOX"] == []
        [stored] = (await session.scalars(select(InboundMessage))).all()
        assert stored.status is InboundStatus.failed


class TestStorableText:
    @pytest.mark.parametrize(
        ("raw", "subject", "sender"),
        [
            (b"From: a@x.example\nSubject: hi\x00there\n\nbody\n", "hithere", "a@x.example"),
            (b"From: a\x00b@x.example\nSubject: hi\n\nbody\n", "hi", "ab@x.example"),
            (
                b"From: a@x.example\nSubject: " + "Ответ ".encode() * 400 + b"\xff\n\nbody\n",
                ("Ответ " * 400)[:500],  # decoded as UTF-8, then cut to the column
                "a@x.example",
            ),
        ],
        ids=[
            "NUL in the subject",
            "NUL in the sender",
            "long subject of raw UTF-8 and a stray byte",
        ],
    )
    async def test_what_postgresql_cannot_hold_is_cleaned_not_a_500(
        self, client: httpx.AsyncClient, raw: bytes, subject: str, sender: str
    ) -> None:
        answered = await post_mail(client, raw)
        assert answered.status_code == 200, answered.text
        assert (answered.json()["subject"], answered.json()["from_address"]) == (subject, sender)

    async def test_a_reply_with_nul_in_its_text_becomes_a_response(
        self, queued: dict[str, object], client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        delivery = await the_delivery(session)
        reply = sample("reply-quoting-letter.eml", delivery_id=delivery.id)
        reply = reply.replace(b"Dear Ms Lovelace", b"Dear Ms\x00 Lovelace", 1)
        answered = await post_mail(client, reply)
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "matched"
        token = queued["token"]
        assert isinstance(token, str)
        response = await client.get(
            f"/api/v1/responses/{answered.json()['response_id']}", headers=bearer(token)
        )
        assert response.json()["excerpt"].startswith("Dear Ms Lovelace")


class TestInboundEmlCommand:
    def test_an_unreadable_message_exits_0_so_the_mta_does_not_retry(
        self, appeals: Appeals, tmp_path: Path
    ) -> None:
        assert appeals("db", "upgrade").returncode == 0
        path = tmp_path / "deep.eml"
        path.write_bytes(nested_multipart(3000))
        result = appeals("inbound", "eml", str(path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "message 1: ?, failed"


class TestBodyText:
    @pytest.mark.parametrize(
        "raw",
        [
            # get_body() takes the related part's unparsed text for a list of parts.
            b"From: a@x\nContent-Type: multipart/alternative; boundary=a\n\n--a\n"
            b'Content-Type: multipart/related; boundary="never"\n\n<p>x</p>\n--a--\n',
            b"From: a@x\nContent-Disposition: inline; a=" + b"(" * 1200 + b"\n\nhello\n",
        ],
        ids=["related part without parts", "nested comments in Content-Disposition"],
    )
    def test_what_the_stdlib_chokes_on_reads_as_no_text(self, raw: bytes) -> None:
        assert mime.body_text(mime.as_email(raw)) == ""
