"""Building a letter's e-mail: what the supporter typed cannot add a header, and every field
reads back as written, whichever flattening sends it (aiosmtplib's, or `as_bytes` for the outbox).

Display names are decoded the RFC 2047 way (`email.header`): the `email` package's own address
parser puts a space between adjacent encoded words, which the RFC says to drop — it did so for
the messages the package built itself, too.
"""

from __future__ import annotations

import email
import random
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any

import pytest
from aiosmtplib.email import flatten_message

from app.config import Settings
from app.delivery.email import Outgoing, attach, build, delivery_token, shown_name

SETTINGS = Settings()
TITLE = "Free Maks Bokayev and Talgat Ayan"
HEADERS = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Language",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
]
BREAKS = ["\r\n", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
# Quotes, backslashes, address specials, encoded-word look-alikes, accents, Cyrillic, CJK, emoji
# and a combining mark: everything but a line break that a name or a subject may hold.
POOL = [*'abcXYZ  ..,,""\\\\()<>@:;[]=?_-\'\t', *"éßЖжя中文😀", "\u0301", "=?", "?=", "Bcc: "]


def letter(**fields: Any) -> Outgoing:
    values: dict[str, Any] = {
        "delivery_id": 42,
        "to_address": "president@pace.example.org",
        "to_name": "President of PACE",
        "sender_name": "Ada Lovelace",
        "campaign_title": TITLE,
        "subject": TITLE,
        "body": "Dear President,\n\nPlease act.\n\nAda Lovelace",
        "language": "en",
        "settings": SETTINGS,
        **fields,
    }
    return build(**values)


def wire_forms(outgoing: Outgoing) -> list[bytes]:
    """The bytes both transports send and write (written by build() itself), and what the email
    package's generators make of the message: the same bytes."""
    forms = [outgoing.as_bytes(), flatten_message(outgoing.message), outgoing.message.as_bytes()]
    assert forms[0] == forms[1] == forms[2]
    return forms


def mailbox(raw: Message, name: str) -> tuple[str, str]:
    [(display_name, addr_spec)] = getaddresses([str(raw[name])])
    return str(make_header(decode_header(display_name))), addr_spec


def header_names(wire: bytes) -> list[str]:
    """Every header line's name, in order; continuation lines must start with a space."""
    head = wire.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = []
    for line in head.split("\r\n"):
        if line.startswith((" ", "\t")):
            continue
        name, colon, _ = line.partition(":")
        assert colon, f"a header line without a name: {line!r}"
        names.append(name)
    return names


class TestBuild:
    @pytest.mark.parametrize(
        ("sender_name", "to_name", "subject"),
        [
            ("Ada Lovelace", "President of PACE", "Free Maks Bokayev and Talgat Ayan"),
            ("Сауле Ахметова", "Генеральный прокурор", "Свободу Максу Бокаеву и Талгату Аяну"),
            ('O\'Brien, Siobhán "Shiv"', "Président, Assemblée", "Appel pour M. Bokayev"),
            ("Zhang Wei 张伟 😀", "", "=?utf-8?q?not_an_encoded_word?= (a subject)"),
            ("A\\B <c@d.example> ; [e]", "x" * 120, "word " * 40 + "end"),
            ("Александра Константиновна " * 4, "Ж" * 90, "Призыв " * 30),
        ],
    )
    def test_every_field_reads_back_as_written(
        self, sender_name: str, to_name: str, subject: str
    ) -> None:
        outgoing = letter(sender_name=sender_name, to_name=to_name, subject=subject)
        token = delivery_token(42, SETTINGS.token_secret)
        for wire in wire_forms(outgoing):
            raw = email.message_from_bytes(wire, policy=compat32)
            parsed = email.message_from_bytes(wire, policy=default_policy)
            assert header_names(wire) == HEADERS
            assert mailbox(raw, "From") == (
                shown_name(f"{sender_name} via {TITLE}"),
                f"campaign@{SETTINGS.mail_domain}",
            )
            assert mailbox(raw, "To") == (shown_name(to_name), "president@pace.example.org")
            assert parsed["Subject"] == subject
            assert parsed["Reply-To"] == f"reply+{token}@{SETTINGS.mail_domain}"
            assert parsed["Message-ID"] == f"<delivery-{token}@{SETTINGS.mail_domain}>"
            assert parsed["Content-Language"] == "en"
            assert not parsed.defects and not parsed["Subject"].defects
            assert max(map(len, wire.split(b"\r\n"))) <= 998
            assert all(  # folded where there is a space to fold at
                len(line) <= 78 or b" " not in line.strip()
                for line in wire.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            )
        assert str(outgoing.message["Subject"]) == subject  # readable in the program, as before
        assert outgoing.envelope_from == f"bounce+{token}@{SETTINGS.mail_domain}"

    @pytest.mark.parametrize(
        "sender_name",
        [
            "Minister <minister@gov.example>",
            '"minister@gov.example"',
            "minister@gov.example",
            "Ada <<x@gov.example>>@",
        ],
    )
    def test_a_name_cannot_pose_as_another_address(self, sender_name: str) -> None:
        for wire in wire_forms(letter(sender_name=sender_name)):
            parsed = email.message_from_bytes(wire, policy=default_policy)
            [address] = parsed["From"].addresses
            assert address.addr_spec == f"campaign@{SETTINGS.mail_domain}"
            assert not {"@", "<", ">", '"'} & set(address.display_name)
            assert "gov.example" in address.display_name  # the name is kept, defused

    @pytest.mark.parametrize(
        "body",
        [
            "Dear President,\n\nPlease act.\n",
            "Cher Président,\r\n\r\nJe vous écris au sujet de Maks Bokayev. " * 30,
            "Уважаемый господин Генеральный прокурор,\n\n" + "Прошу освободить. " * 80,
            # What could be taken for MIME structure, the SMTP end of data, or a boundary:
            f"--=_{delivery_token(42, SETTINGS.token_secret)}\n.\nFrom me\n=_\n\n\n end ",
            "x" * 2000,
        ],
    )
    def test_the_text_and_the_html_carry_the_body(self, body: str) -> None:
        for wire in wire_forms(letter(body=body)):
            parsed = email.message_from_bytes(wire, policy=default_policy)
            text, page = parsed.get_body(("plain",)), parsed.get_body(("html",))
            assert text is not None and page is not None
            expected = body.replace("\r\n", "\n")
            assert text.get_content().replace("\r\n", "\n") == expected.rstrip("\n") + "\n"
            assert page.get_content().startswith('<!doctype html><html lang="en"><body><p>')
            assert max(map(len, wire.split(b"\r\n"))) <= 998
            assert [p.get_content_type() for p in parsed.walk()] == [
                "multipart/alternative",
                "text/plain",
                "text/html",
            ]

    @pytest.mark.parametrize("line_break", BREAKS)
    @pytest.mark.parametrize(
        "field", ["sender_name", "to_name", "campaign_title", "subject", "language", "to_address"]
    )
    def test_a_line_break_in_any_field_is_refused(self, field: str, line_break: str) -> None:
        """ "Ada\\r\\nBcc: ..." would otherwise add a header of the supporter's choosing."""
        value = f"Ada{line_break}Bcc: victim@example.org"
        if field == "to_address":
            value = f"president@pace.example.org{line_break}Bcc: victim@example.org"
        with pytest.raises(ValueError, match=r"line break|not a usable"):
            letter(**{field: value})

    @pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f"])
    def test_other_control_characters_are_refused_too(self, control: str) -> None:
        with pytest.raises(ValueError, match="line break"):
            letter(sender_name=f"Ada{control}Lovelace")

    def test_no_name_or_subject_adds_a_header(self) -> None:
        """Random names and subjects from every troublesome character but line breaks."""
        rng = random.Random(20261125)
        for _ in range(300):

            def text(longest: int) -> str:
                return "".join(rng.choice(POOL) for _ in range(rng.randrange(1, longest))).strip()

            sender_name, to_name, subject = text(120), text(60), text(230) or "x"
            outgoing = letter(sender_name=sender_name, to_name=to_name, subject=subject)
            wire, *_ = wire_forms(outgoing)
            raw = email.message_from_bytes(wire, policy=compat32)
            assert header_names(wire) == HEADERS
            assert mailbox(raw, "From")[0] == shown_name(f"{sender_name} via {TITLE}")
            assert mailbox(raw, "To")[0] == shown_name(to_name)
            parsed = email.message_from_bytes(wire, policy=default_policy)
            assert parsed["Subject"] == subject

    @pytest.mark.parametrize(
        "address", ["josé@example.org", "a b@example.org", "a@b@example.org", "<a@example.org>", ""]
    )
    def test_an_unusable_address_is_refused(self, address: str) -> None:
        with pytest.raises(ValueError, match="not a usable e-mail address"):
            letter(to_address=address)

    def test_a_quoted_local_part_is_kept(self) -> None:
        wire = flatten_message(letter(to_address='"john doe"@example.org').message)
        raw = email.message_from_bytes(wire, policy=compat32)
        assert mailbox(raw, "To") == ("President of PACE", '"john doe"@example.org')

    def test_a_digest_csv_can_still_be_attached(self) -> None:
        outgoing = letter(sender_name="Сауле Ахметова")
        attach(outgoing, filename="cosigners.csv", content="name,city\nАда,Lyon\n")
        wire, *_ = wire_forms(outgoing)  # the bytes build() wrote are not sent: they lack it
        parsed = email.message_from_bytes(wire, policy=default_policy)
        assert [p.get_content_type() for p in parsed.walk()] == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/csv",
        ]
        [csv] = parsed.iter_attachments()
        assert csv.get_filename() == "cosigners.csv"
        # Declared UTF-8, so a reader decodes the names (text parts travel with CRLF).
        assert csv.get_content_charset() == "utf-8"
        assert csv.get_content().replace("\r\n", "\n") == "name,city\nАда,Lyon\n"
