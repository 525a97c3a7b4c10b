"""Writes the hand-built part of the bounce corpus: documented MTA formats, and mail that is not one.

Each case is written the way the MTA's documentation or its long-known output lays it out (Exim's
classic text bounce, qmail's QSBMF, Exchange and Domino NDRs, GroupWise, Sun Java System
Messaging, X.400 gateways, AOL, Yahoo, Postfix and Sendmail in their non-DSN forms, delay
warnings) with invented mailboxes at example.org/.net/.com only. The returned letters carry traps
the review found (an `X-Mailman-Version: 2.0.1` header, article numbers such as 5.1.2, IP
addresses) so that a status taken from the wrong place shows. The ground truth of each file goes
to manifest.json, which this script rewrites for the names it owns (`hb-*`) and leaves alone for
the others. Run: `python handbuilt.py` (from any folder); the files are committed, so this is only
needed to change them.
"""

# ruff: noqa: E501 -- the strings are mail text, kept one line of mail to one line of code.

from __future__ import annotations

import json
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent
SENDER = "bounces+4242.5415ad171cfd1bf2158c@appeals.example.net"
LETTER_ID = "<delivery-4242.5415ad171cfd1bf2158c@appeals.invalid>"
DATE = "Thu, 03 Dec 2026 14:08:50 +0000"
P, T = "permanent", "temporary"

Truth = dict[str, object]
CASES: dict[str, tuple[str, Truth]] = {}


def case(name: str, text: str, failures: dict[str, str] | None = None, note: str = "") -> None:
    """Record one corpus file: its text and, for a bounce, address → permanent/temporary."""
    truth: Truth = {"bounce": failures is not None, "note": note}
    if failures is not None:
        truth["failures"] = failures
    CASES[f"hb-{name}.eml"] = (text, truth)


def letter(to: str, *, extra: str = "", body: str = "", cc: str = "") -> str:
    """The appeal letter as it comes back inside a bounce (headers, then its text)."""
    cc_line = f"Cc: {cc}\n" if cc else ""
    text = body or (
        "Dear Sir or Madam,\n\n"
        "We write about the prisoner held under article 5.1.2 of the Criminal Code since\n"
        "4.4.2024 and ask for a review of the case (our file 2.0.1, hearing 552).\n\n"
        "Yours faithfully,\nThe Appeals volunteers\n"
    )
    return (
        f"Return-Path: <{SENDER}>\n"
        "Received: from appeals.example.net (appeals.example.net [192.0.2.10])\n"
        "\tby mx.example.org (Postfix 3.7.11) with ESMTPS id 4C2D1A0552;\n"
        f"\t{DATE}\n"
        "From: Appeals <letters@appeals.example.net>\n"
        f"To: {to}\n{cc_line}"
        "Subject: Appeal on behalf of a prisoner of conscience\n"
        f"Message-ID: {LETTER_ID}\n"
        f"Date: {DATE}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        f"{extra}\n{text}"
    )


MAILMAN = "X-Mailman-Version: 2.0.1\nX-Mailer: Microsoft Outlook 16.0.5.1\n"


def head(
    *,
    sender: str,
    subject: str,
    null: bool = True,
    extra: str = "",
    content: str = "text/plain; charset=us-ascii",
) -> str:
    return (
        ("Return-Path: <>\n" if null else "")
        + f"From: {sender}\nTo: {SENDER}\nSubject: {subject}\nDate: {DATE}\n"
        + f"Message-ID: <{zlib.crc32((subject + sender).encode())}@mx.example.org>\n"
        + f"MIME-Version: 1.0\nContent-Type: {content}\n{extra}\n"
    )


def multipart(boundary: str, *parts: tuple[str, str]) -> str:
    """The body of a multipart message: (content headers, content) per part."""
    out = "This is a multi-part message in MIME format.\n\n"
    for headers, content in parts:
        out += f"--{boundary}\n{headers}\n\n{content}\n"
    return out + f"--{boundary}--\n"


# --- Exim's classic text bounce (before Exim 4.90 sent RFC 3464 reports) ------------------------

EXIM_FROM = "Mail Delivery System <Mailer-Daemon@mx.example.org>"


def exim_classic(
    name: str, failed: list[tuple[str, str]], *, extra: str = "", temporary: tuple[str, ...] = ()
) -> None:
    blocks = "".join(f"  {a}\n    {why}\n" for a, why in failed)
    text = head(
        sender=EXIM_FROM,
        subject="Mail delivery failed: returning message to sender",
        extra=f"X-Failed-Recipients: {', '.join(a for a, _ in failed)}\n"
        "Auto-Submitted: auto-replied\n",
    ) + (
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"{blocks}\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        + letter(", ".join(a for a, _ in failed), extra=extra)
    )
    truth = {a: T if a in temporary else P for a, _ in failed}
    case(name, text, truth, "Exim classic text bounce")


exim_classic(
    "exim-classic-user-unknown",
    [
        (
            "chancellery@ministry.example.org",
            "SMTP error from remote mail server after RCPT TO:<chancellery@ministry.example.org>:\n"
            "    host mx.ministry.example.org [192.0.2.25]: 550 5.1.1 User unknown",
        )
    ],
)
exim_classic(
    "exim-classic-mailman-header",
    [
        (
            "press@court.example.com",
            "SMTP error from remote mail server after RCPT TO:<press@court.example.com>:\n"
            "    host mail.court.example.com [198.51.100.4]: 550 No such user here",
        )
    ],
    extra=MAILMAN,
)
exim_classic(
    "exim-classic-unrouteable",
    [("reception@prosecutor.example.net", "Unrouteable address")],
    extra=MAILMAN,
)
exim_classic(
    "exim-classic-two-recipients",
    [
        (
            "secretary@ombudsman.example.org",
            "SMTP error from remote mail server after RCPT TO:<secretary@ombudsman.example.org>:\n"
            "    host mx.ombudsman.example.org [192.0.2.7]: 550-5.1.1 The email account that\n"
            "    550-5.1.1 you tried to reach does not exist.",
        ),
        (
            "deputy@ombudsman.example.org",
            "SMTP error from remote mail server after RCPT TO:<deputy@ombudsman.example.org>:\n"
            "    host mx.ombudsman.example.org [192.0.2.7]: 452 4.2.2 Mailbox full:\n"
            "    retry timeout exceeded",
        ),
    ],
    temporary=("deputy@ombudsman.example.org",),
)
exim_classic(
    "exim-classic-quota",
    [
        (
            "minister@interior.example.com",
            "SMTP error from remote mail server after end of data:\n"
            "    host mx.interior.example.com [203.0.113.9]: 552 5.2.2 Mailbox quota exceeded",
        )
    ],
)
exim_classic(
    "exim-classic-local-delivery",
    [
        (
            "office@parliament.example.org",
            'save to mailbox is not permitted\n    (generated from "Office" <office@parliament.example.org>)',
        )
    ],
    extra="X-Mailman-Version: 2.1.39\n",
)

case(
    "exim-classic-delay-warning",
    head(
        sender=EXIM_FROM,
        subject="Warning: message 1xZ7UA-00036k-0r delayed 24 hours",
        extra="Auto-Submitted: auto-replied\n",
    )
    + (
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent has not yet been delivered to one or more of its\n"
        "recipients after more than 24 hours on the queue on mx.example.org.\n\n"
        "The message identifier is:     1xZ7UA-00036k-0r\n"
        "The subject of the message is: Appeal on behalf of a prisoner of conscience\n"
        f"The date of the message is:    {DATE}\n\n"
        "The address to which the message has not yet been delivered is:\n\n"
        "  registry@court.example.net\n"
        "    host mx.court.example.net [192.0.2.44]\n"
        "    Delay reason: SMTP error from remote mail server after RCPT TO:<registry@court.example.net>:\n"
        "    452 4.2.2 Mailbox full\n\n"
        "No action is required on your part. Delivery attempts will continue for\n"
        "some time, and this warning may be repeated at intervals if the message\n"
        "remains undelivered. Eventually the mail delivery software will give up,\n"
        "and when that happens, the message will be returned to you.\n"
    ),
    {"registry@court.example.net": T},
    "Exim classic delay warning",
)

case(
    "exim3-classic-no-header",
    head(
        sender=EXIM_FROM,
        subject="Mail delivery failed: returning message to sender",
        null=False,
    )
    + (
        "This message was created automatically by mail delivery software (Exim).\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  complaints@procuracy.example.org\n"
        "    SMTP error from remote mailer after RCPT TO:<complaints@procuracy.example.org>:\n"
        "    host mx.procuracy.example.org [192.0.2.120]: 550 <complaints@procuracy.example.org>... User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        + letter("complaints@procuracy.example.org", extra=MAILMAN)
    ),
    {"complaints@procuracy.example.org": P},
    "Exim 3 text bounce: no X-Failed-Recipients, no null Return-Path",
)

# --- qmail (QSBMF, http://cr.yp.to/proto/qsbmf.txt) ---------------------------------------------

QMAIL_FROM = "MAILER-DAEMON@mail.example.net"


def qmail(name: str, paragraphs: list[tuple[str, str, str]], *, extra: str = "") -> None:
    body = "".join(f"<{a}>:\n{why}\n\n" for a, why, _ in paragraphs)
    text = head(sender=QMAIL_FROM, subject="failure notice") + (
        "Hi. This is the qmail-send program at mail.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"{body}"
        "--- Below this line is a copy of the message.\n\n"
        + letter(", ".join(a for a, _, _ in paragraphs), extra=extra)
    )
    case(name, text, {a: k for a, _, k in paragraphs}, "qmail QSBMF bounce")


qmail(
    "qmail-no-mailbox",
    [("info@region.example.net", "Sorry, no mailbox here by that name. (#5.1.1)", P)],
    extra=MAILMAN,
)
qmail(
    "qmail-remote-said",
    [
        (
            "governor@region.example.com",
            "192.0.2.80 does not like recipient.\n"
            "Remote host said: 550 5.1.1 <governor@region.example.com>: Recipient address rejected\n"
            "Giving up on 192.0.2.80.",
            P,
        )
    ],
)
qmail(
    "qmail-no-host",
    [
        (
            "judge@tribunal.example.org",
            "Sorry, I couldn't find any host named tribunal.example.org. (#5.1.2)",
            P,
        )
    ],
    extra=MAILMAN,
)
qmail(
    "qmail-queue-too-long",
    [
        (
            "clerk@tribunal.example.net",
            "Connected to 198.51.100.30 but connection died. (#4.4.2)\n"
            "I'm not going to try again; this message has been in the queue too long.",
            T,
        )
    ],
)
qmail(
    "qmail-mixed",
    [
        ("a.petrova@council.example.org", "Sorry, no mailbox here by that name. (#5.1.1)", P),
        (
            "duty@council.example.org",
            "The users mailbox is over the allowed quota (#5.2.2)",
            P,
        ),
    ],
)
qmail(
    "qmail-vpopmail",
    [
        (
            "citizens@city.example.com",
            "This address no longer accepts mail. (#5.1.1)",
            P,
        )
    ],
    extra="X-Mailman-Version: 2.0.13\n",
)

# --- Microsoft Exchange / Outlook NDRs ----------------------------------------------------------

EXCH_FROM = (
    "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@ministry.example.org>"
)


def exchange_modern(
    name: str,
    address: str,
    status: str,
    diagnostic: str,
    *,
    final: str | None = None,
    original: str | None = None,
    extra: str = "",
    kind: str = P,
    action: str = "failed",
) -> None:
    boundary = "B_3a8f1c_report"
    human = (
        "Delivery has failed to these recipients or groups:\n\n"
        f"{address}\nThe email address you entered couldn't be found. Please check the "
        "recipient's email address and try to resend the message.\n\n"
        "Diagnostic information for administrators:\n\n"
        "Generating server: EX01.ministry.example.org\n\n"
        f"{address}\nRemote Server returned '{diagnostic}'\n\n"
        "Original message headers:\n\n"
        "Received: from EX02.ministry.example.org (192.0.2.99) by EX01.ministry.example.org\n"
        " (192.0.2.98) with Microsoft SMTP Server (version=TLS1_2) id 15.1.2507.39;\n"
        f" {DATE}\nX-Mailman-Version: 2.0.1\nMessage-ID: {LETTER_ID}\n"
    )
    final_line = f"Final-Recipient: {final or 'rfc822;' + address}\n"
    original_line = f"Original-Recipient: {original}\n" if original else ""
    dsn = (
        "Reporting-MTA: dns;EX01.ministry.example.org\n"
        f"Received-From-MTA: dns;EX02.ministry.example.org\nArrival-Date: {DATE}\n\n"
        f"{original_line}{final_line}Action: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp;{diagnostic}\n"
    )
    text = head(
        sender=EXCH_FROM,
        subject="Undeliverable: Appeal on behalf of a prisoner of conscience",
        content=f'multipart/report; report-type=delivery-status; boundary="{boundary}"',
        extra="X-MS-Exchange-Message-Is-Ndr:\nAuto-Submitted: auto-replied\n",
    ) + multipart(
        boundary,
        ("Content-Type: text/plain; charset=us-ascii", human),
        ("Content-Type: message/delivery-status", dsn),
        ("Content-Type: message/rfc822", letter(address, extra=extra)),
    )
    case(name, text, {address: kind}, "Exchange 2010+ NDR with a delivery-status part")


exchange_modern(
    "exchange-resolver-unknown",
    "reception@ministry.example.org",
    "5.1.10",
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
)
exchange_modern(
    "exchange-legacydn",
    "j.ivanova@ministry.example.org",
    "5.1.1",
    "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found",
    final="LEGACYEXCHANGEDN;/O=MINISTRY/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=JIVANOVA",
    original="rfc822;j.ivanova@ministry.example.org",
    extra=MAILMAN,
)
exchange_modern(
    "exchange-imceaex",
    "deputy.minister@ministry.example.org",
    "5.1.1",
    "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found",
    final="rfc822;IMCEAEX-_O=MINISTRY_OU=EXCHANGE+20ADMINISTRATIVE+20GROUP_CN=RECIPIENTS_CN=DEPMIN@ministry.example.org",
    original="rfc822;deputy.minister@ministry.example.org",
)
exchange_modern(
    "exchange-quota",
    "press.office@ministry.example.org",
    "5.2.2",
    "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException",
    extra=MAILMAN,
)
exchange_modern(
    "exchange-relay-denied",
    "secretariat@justice.example.com",
    "5.7.1",
    "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required",
)
exchange_modern(
    "exchange-expired",
    "helpdesk@justice.example.net",
    "4.4.7",
    "400 4.4.7 Message delayed",
    kind=T,
    extra="X-Mailman-Version: 5.1.1\n",
)
exchange_modern(
    "exchange-delayed-action",
    "archive@justice.example.org",
    "4.4.1",
    "441 4.4.1 Error encountered while communicating with primary target IP address",
    kind=T,
    action="delayed",
)


def exchange_2003(name: str, lines: list[tuple[str, str]], *, extra: str = "") -> None:
    """Exchange 2000/2003's text NDR (multipart/mixed: the notice, then the letter attached)."""
    boundary = "----_=_NextPart_001_01C3B9A1.ABCDEF00"
    listing = "".join(
        f"      {who} on 12/3/2026 2:08 PM\n            {why}\n" for who, why in lines
    )
    human = (
        "Your message did not reach some or all of the intended recipients.\n\n"
        "      Subject:\tAppeal on behalf of a prisoner of conscience\n"
        "      Sent:\t12/3/2026 2:08 PM\n\n"
        "The following recipient(s) could not be reached:\n\n"
        f"{listing}\n"
    )
    return_text = letter(", ".join(w for w, _ in lines if "@" in w), extra=extra)
    text = head(
        sender="System Administrator <postmaster@justice.example.org>",
        subject="Undeliverable: Appeal on behalf of a prisoner of conscience",
        content=f'multipart/mixed; boundary="{boundary}"',
        extra="X-Mailer: Internet Mail Service (5.5.2653.19)\n",
    ) + multipart(
        boundary,
        ("Content-Type: text/plain; charset=iso-8859-1", human),
        ("Content-Type: message/rfc822", return_text),
    )
    failures = {w: P for w, _ in lines if "@" in w}
    case(name, text, failures, "Exchange 2003 text NDR")


exchange_2003(
    "exchange2003-unknown",
    [
        (
            "legal@justice.example.org",
            "The e-mail account does not exist at the organization this message was sent to.\n"
            "            <mx.justice.example.org #5.1.1>",
        )
    ],
    extra=MAILMAN,
)
exchange_2003(
    "exchange2003-two",
    [
        ("clerk@justice.example.org", "<mx.justice.example.org #5.1.1>"),
        ("appeals@justice.example.org", "<mx.justice.example.org #5.2.2 smtp;552 mailbox full>"),
    ],
)

# --- Lotus Notes / Domino -----------------------------------------------------------------------


def domino(name: str, address: str, reason: str, *, extra: str = "", kind: str = P) -> None:
    text = head(
        sender="Postmaster@domino.example.org",
        subject=f"DELIVERY FAILURE: {reason}",
        null=False,
        extra="X-Mailer: Lotus Domino Release 9.0.1FP10\n",
    ) + (
        "Your message\n\n"
        "  Subject: Appeal on behalf of a prisoner of conscience\n\n"
        f"was not delivered to:\n\n  {address}\n\nbecause:\n\n  {reason}\n\n"
        "---------------------- Original message follows ----------------------\n\n"
        + letter(address, extra=extra)
    )
    case(name, text, {address: kind}, "Lotus Domino failure report")


domino(
    "domino-not-listed",
    "hr.department@domino.example.org",
    "User hr.department (hr.department@domino.example.org) not listed in Domino Directory",
    extra=MAILMAN,
)
domino(
    "domino-quota",
    "k.sokolov@domino.example.org",
    "Unable to deliver message: mailbox is full (quota exceeded 5.2.2)",
)
domino(
    "domino-transfer",
    "board@domino.example.net",
    "Error transferring to MAIL01/EXAMPLE; Maximum hop count exceeded. Message probably in a routing loop.",
)

# --- Novell GroupWise ---------------------------------------------------------------------------


def groupwise(name: str, address: str, why: str, *, mailer: bool = True, extra: str = "") -> None:
    boundary = "=__PartGW1A2B3C4D.0__="
    human = (
        "The message that you sent was undeliverable to the following:\n"
        f"\t{address} ({why})\n\n"
        "Possibly truncated original message follows:\n"
    )
    text = head(
        sender="Mail Delivery System <postmaster@gw.example.com>",
        subject="Undeliverable mail",
        content=f'multipart/mixed; boundary="{boundary}"',
        extra="X-Mailer: Novell GroupWise Internet Agent 18.2.1\n" if mailer else "",
    ) + multipart(
        boundary,
        ("Content-Type: text/plain; charset=us-ascii", human),
        ("Content-Type: message/rfc822", letter(address, extra=extra)),
    )
    case(name, text, {address: P}, "GroupWise Internet Agent bounce")


groupwise("groupwise-user-not-found", "f.novak@gw.example.com", "user not found", extra=MAILMAN)
groupwise("groupwise-no-mailer", "mayor@gw.example.com", "host not found", mailer=False)
groupwise("groupwise-mailbox-full", "council@gw.example.net", "mailbox full 5.2.2")

# --- Sun Java System / Oracle Communications Messaging Server ------------------------------------


def sun(
    name: str,
    address: str,
    *,
    status: str,
    action: str = "failed",
    daemon: str = "sims-ms-daemon",
    diagnostic: str = "smtp;550 5.1.1 unknown or illegal alias",
    kind: str = P,
    extra: str = "",
) -> None:
    boundary = "Boundary_(ID_ryU4ZOjGurr6t5pXCA4C4w)"
    local = address.split("@")[0]
    verb = "cannot be delivered" if action == "failed" else "has not yet been delivered"
    human = (
        "This report relates to a message you sent with the following header fields:\n\n"
        f"  Message-id: {LETTER_ID}\n  Date: {DATE}\n"
        "  From: Appeals <letters@appeals.example.net>\n"
        f"  To: {address}\n  Subject: Appeal on behalf of a prisoner of conscience\n\n"
        f"Your message {verb} to the following recipients:\n\n"
        f"  Recipient address: {local}@{daemon}\n"
        f"  Original address: {address}\n"
        "  Reason: Remote SMTP server has rejected address\n"
        f"  Diagnostic code: {diagnostic}\n"
        "  Remote system: dns;mail.example.org (TCP|192.0.2.5|47211|192.0.2.6|25)\n"
    )
    dsn = (
        "Original-envelope-id: 0LAB00M0A1B2C300@mail.example.org\n"
        "Reporting-MTA: dns;mail.example.org (tcp_intranet-daemon)\n\n"
        f"Original-recipient: rfc822;{address}\n"
        f"Final-recipient: rfc822;{local}@{daemon}\n"
        f"Action: {action}\nStatus: {status}\n"
        "Remote-MTA: dns;mail.example.org (TCP|192.0.2.5|47211|192.0.2.6|25)\n"
        f"Diagnostic-code: {diagnostic}\n"
    )
    text = head(
        sender="Internet Mail Delivery <postmaster@mail.example.org>",
        subject="Delivery Notification: Delivery has failed"
        if action == "failed"
        else "Delivery Notification: Delivery has been delayed",
        content=f'multipart/report; boundary="{boundary}"; report-type=delivery-status',
    ) + multipart(
        boundary,
        ("Content-type: text/plain; charset=us-ascii\nContent-language: en-US", human),
        ("Content-type: message/delivery-status", dsn),
        ("Content-type: text/rfc822-headers", letter(address, extra=extra).split("\n\n")[0]),
    )
    case(name, text, {address: kind}, f"Sun Java System Messaging ({daemon})")


sun("sun-sims-unknown", "minister@sun.example.org", status="5.1.1 (unknown or illegal alias)")
sun(
    "sun-sims-quota",
    "cabinet@sun.example.org",
    status="5.2.2 (mailbox full)",
    diagnostic="smtp;552 5.2.2 mailbox full",
    extra=MAILMAN,
)
sun(
    "sun-ims-delayed",
    "attorney@sun.example.net",
    status="4.2.2 (mailbox full)",
    action="delayed",
    daemon="ims-ms-daemon",
    diagnostic="smtp;452 4.2.2 over quota",
    kind=T,
)
sun(
    "sun-ims-unknown",
    "procurator@sun.example.com",
    status="5.0.0 (unknown permanent failure)",
    daemon="ims-ms-daemon",
    diagnostic="smtp;550 user unknown",
    extra=MAILMAN,
)

# --- X.400 gateways -----------------------------------------------------------------------------


def x400(
    name: str,
    address: str,
    final: str,
    *,
    original: bool = True,
    status: str = "5.1.1",
    kind: str = P,
    extra: str = "",
) -> None:
    boundary = "x400-gw-report-9f2"
    orig = f"Original-Recipient: rfc822;{address}\n" if original else ""
    dsn = (
        "Reporting-MTA: x400; gw.x400.example.org\n"
        "X400-Conversion-Date: Thu, 3 Dec 2026 14:09:02 +0000\n\n"
        f"{orig}Final-Recipient: x400; {final}\n"
        f"Action: failed\nStatus: {status}\n"
        'X400-Supplementary-Info: "Unable to deliver: recipient unknown (X.400 reason 1, diagnostic 0)"\n'
    )
    human = (
        "Your message could not be delivered to one or more of its recipients.\n\n"
        f"  Recipient: {final}\n  Reason: unable-to-transfer, unrecognised-ORName\n"
    )
    text = head(
        sender="X.400 Gateway <postmaster@gw.x400.example.org>",
        subject="Non-delivery notification",
        content=f'multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ) + multipart(
        boundary,
        ("Content-Type: text/plain", human),
        ("Content-Type: message/delivery-status", dsn),
        ("Content-Type: message/rfc822", letter(address, extra=extra)),
    )
    case(name, text, {address: kind}, "X.400 gateway report")


x400(
    "x400-with-original",
    "registry@x400.example.org",
    "/C=ZZ/ADMD= /PRMD=EXAMPLE/O=MINISTRY/S=Registry/",
    extra=MAILMAN,
)
x400(
    "x400-without-original",
    "head.office@x400.example.net",
    "/C=ZZ/ADMD=ZZMAIL/PRMD=EXAMPLE/O=HEAD/OU1=OFFICE/S=Office/G=Head/",
    original=False,
)
x400(
    "x400-semicolons",
    "commissioner@x400.example.com",
    "c=ZZ;a= ;p=EXAMPLE;o=COMMISSION;s=Commissioner;",
    original=False,
    status="5.1.0",
    extra="X-Mailman-Version: 2.0.1\n",
)

# Exchange 2003 NDR naming an X.400 address instead of the SMTP one.
case(
    "x400-exchange-text",
    head(
        sender="System Administrator <postmaster@x400.example.org>",
        subject="Undeliverable: Appeal on behalf of a prisoner of conscience",
        content='multipart/mixed; boundary="----_=_NextPart_x400"',
    )
    + multipart(
        "----_=_NextPart_x400",
        (
            "Content-Type: text/plain",
            "Your message did not reach some or all of the intended recipients.\n\n"
            "      Subject:\tAppeal on behalf of a prisoner of conscience\n\n"
            "The following recipient(s) could not be reached:\n\n"
            "      'X400:c=ZZ;a= ;p=EXAMPLE;o=TRIBUNAL;s=President;' on 12/3/2026 2:09 PM\n"
            "            A configuration error in the e-mail system caused the message to bounce\n"
            "            <gw.x400.example.org #5.4.6>\n",
        ),
        ("Content-Type: message/rfc822", letter("president@tribunal.example.org")),
    ),
    {"president@tribunal.example.org": P},
    "Exchange NDR naming an X.400 address; the address is the returned letter's To",
)

# --- AOL ----------------------------------------------------------------------------------------

case(
    "aol-returned-mail",
    head(
        sender="Mail Delivery Subsystem <MAILER-DAEMON@aol.example.com>",
        subject="Returned mail: User unknown",
    )
    + (
        "The original message was received at Thu, 3 Dec 2026 09:08:50 -0500 (EST)\n"
        "from appeals.example.net [192.0.2.10]\n\n"
        "   ----- The following addresses had permanent fatal errors -----\n"
        "<screenname1@aol.example.com>\n\n"
        "   ----- Transcript of session follows -----\n"
        "... while talking to air-yb01.mail.aol.example.com.:\n"
        ">>> RCPT To:<screenname1@aol.example.com>\n"
        "<<< 550 MAILBOX NOT FOUND\n"
        "550 <screenname1@aol.example.com>... User unknown\n\n"
        "   ----- Original message follows -----\n\n"
        + letter("screenname1@aol.example.com", extra=MAILMAN)
    ),
    {"screenname1@aol.example.com": P},
    "AOL (Sendmail-based) returned mail",
)
case(
    "aol-screen-name",
    head(sender="Mail Delivery Subsystem <MAILER-DAEMON@aol.example.com>", subject="Returned mail")
    + (
        "Your mail to the following recipients could not be delivered because they are not\n"
        "accepting mail from appeals.example.net:\n"
        "\tkindheart@aol.example.com\n\n"
        "Status: 5.7.1 (refused by the recipient's mail controls)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        + letter("kindheart@aol.example.com", extra=MAILMAN)
    ),
    {"kindheart@aol.example.com": P},
    "AOL mail-controls refusal",
)
case(
    "aol-dsn-text",
    head(
        sender="Mail Delivery Subsystem <MAILER-DAEMON@aol.example.com>",
        subject="Mail delivery failed: returning message to sender",
    )
    + (
        "The following address(es) failed:\n\n"
        "  senator.office@aol.example.com\n"
        "    SMTP error from remote server for RCPT TO command, host: mx-aol.mail.gm0.yahoodns.example.net\n"
        "    reason: 554 5.7.9 Message not accepted for policy reasons.\n\n"
        "------ This is a copy of the message's headers. ------\n\n"
        + letter("senator.office@aol.example.com", extra=MAILMAN).split("\n\n")[0]
        + "\n"
    ),
    {"senator.office@aol.example.com": P},
    "AOL on the Yahoo platform",
)

# --- Yahoo --------------------------------------------------------------------------------------

YAHOO_FROM = "MAILER-DAEMON@yahoo.example.com"


def yahoo(
    name: str, address: str, said: str, *, intro: str, kind: str = P, extra: str = ""
) -> None:
    text = head(sender=YAHOO_FROM, subject="Failure Notice") + (
        f"{intro}\n\n<{address}>:\n{said}\n\n"
        "--- Below this line is a copy of the message.\n\n" + letter(address, extra=extra)
    )
    case(name, text, {address: kind}, "Yahoo failure notice")


yahoo(
    "yahoo-no-account",
    "tipline@yahoo.example.com",
    "554 delivery error: dd This user doesn't have a yahoo.example.com account "
    "(tipline@yahoo.example.com) [0] - mta1010.mail.gq1.yahoo.example.com",
    intro="Sorry, we were unable to deliver your message to the following address.",
    extra=MAILMAN,
)
yahoo(
    "yahoo-remote-said",
    "defender@partner.example.net",
    "Remote host said: 550 5.1.1 <defender@partner.example.net>... User unknown [RCPT_TO]",
    intro="Sorry, we were unable to deliver your message to the following address.",
)
yahoo(
    "yahoo-over-quota-final",
    "advocate@yahoo.example.com",
    "Remote host said: 452 4.2.2 Over quota [RCPT_TO]\nGiving up after trying for 5 days.",
    intro="Message from yahoo.example.com.\nUnable to deliver message to the following address(es).",
    kind=T,
)

# --- Postfix in its non-DSN forms ---------------------------------------------------------------


def postfix_text(
    name: str, entries: list[tuple[str, str, str]], *, delay: bool = False, extra: str = ""
) -> None:
    listing = "".join(f"<{a}>: {why}\n" for a, why, _ in entries)
    if delay:
        intro = (
            "This is the mail system at host mail.example.com.\n\n"
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            "Your message could not be delivered for more than 4 hour(s).\n"
            "It will be retried until it is 5 day(s) old.\n\n"
            "                   The mail system\n\n"
        )
        subject = "Delayed Mail (still being retried)"
    else:
        intro = (
            "This is the Postfix program at host mail.example.com.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            "For further assistance, please send mail to <postmaster>\n\n"
            "                   The Postfix program\n\n"
        )
        subject = "Undelivered Mail Returned to Sender"
    text = head(sender="MAILER-DAEMON@mail.example.com (Mail Delivery System)", subject=subject) + (
        intro
        + listing
        + "\n--- Undelivered message follows ---\n\n"
        + letter(entries[0][0], extra=extra)
    )
    case(name, text, {a: k for a, _, k in entries}, "Postfix plain-text notice")


postfix_text(
    "postfix-text-unknown",
    [
        (
            "visits@prison.example.org",
            "host mx.prison.example.org[192.0.2.31] said: 550 5.1.1\n"
            "    <visits@prison.example.org>: Recipient address rejected: User unknown in\n"
            "    local recipient table (in reply to RCPT TO command)",
            P,
        )
    ],
    extra=MAILMAN,
)
postfix_text(
    "postfix-text-local",
    [("warden@prison.example.net", 'unknown user: "warden"', P)],
    extra=MAILMAN,
)
postfix_text(
    "postfix-text-delay",
    [
        (
            "director@prison.example.com",
            "host mx.prison.example.com[203.0.113.40] said: 451 4.7.1\n"
            "    Greylisted, see https://postgrey.example.com/ (in reply to RCPT TO command)",
            T,
        )
    ],
    delay=True,
    extra=MAILMAN,
)
postfix_text(
    "postfix-text-delay-connect",
    [
        (
            "medical@prison.example.org",
            "connect to mx.prison.example.org[192.0.2.32]:25: Connection timed out",
            T,
        )
    ],
    delay=True,
)
postfix_text(
    "postfix-text-mixed",
    [
        (
            "a.kozlov@court.example.org",
            "host mx.court.example.org[192.0.2.33] said: 550 5.1.1 User unknown (in reply to RCPT TO command)",
            P,
        ),
        (
            "b.orlova@court.example.org",
            "host mx.court.example.org[192.0.2.33] said: 554 5.7.1 Relay access denied (in reply to RCPT TO command)",
            P,
        ),
    ],
)

# --- Sendmail -----------------------------------------------------------------------------------

SENDMAIL_FROM = "Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>"


def sendmail(
    name: str,
    *,
    permanent: list[tuple[str, str]],
    transient: list[tuple[str, str]] | None = None,
    warning: bool = False,
    dsn: bool = False,
    extra: str = "",
) -> None:
    transient = transient or []
    parts = [
        "The original message was received at Thu, 3 Dec 2026 14:08:50 GMT\n"
        "from appeals.example.net [192.0.2.10]\n"
    ]
    if warning:
        parts.insert(
            0,
            "    **********************************************\n"
            "    **      THIS IS A WARNING MESSAGE ONLY      **\n"
            "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n"
            "    **********************************************\n",
        )
    if permanent:
        parts.append(
            "   ----- The following addresses had permanent fatal errors -----\n"
            + "".join(f"<{a}>\n    (reason: {why})\n" for a, why in permanent)
        )
    if transient:
        parts.append(
            "   ----- The following addresses had transient non-fatal errors -----\n"
            + "".join(f"<{a}>\n    (reason: {why})\n" for a, why in transient)
        )
    transcript = "   ----- Transcript of session follows -----\n" + "".join(
        f"... while talking to mx.example.org.:\n>>> RCPT To:<{a}>\n<<< {why}\n"
        for a, why in permanent
    )
    for a, why in transient:
        transcript += f"<{a}>... Deferred: {why}\n"
    if warning:
        transcript += "Warning: message still undelivered after 4 hours\nWill keep trying until message is 5 days old\n"
    human = "\n".join(parts) + "\n" + transcript
    everyone = [a for a, _ in permanent + transient]
    subject = (
        "Warning: could not send message for past 4 hours"
        if warning
        else "Returned mail: see transcript for details"
    )
    if dsn:
        boundary = "2B3G8s4S012345.1733234930/relay.example.net"
        blocks = "".join(
            f"Final-Recipient: RFC822; {a}\nAction: failed\nStatus: {_code(why)}\n"
            f"Remote-MTA: DNS; mx.example.org\nDiagnostic-Code: SMTP; {why}\n"
            f"Last-Attempt-Date: {DATE}\n\n"
            for a, why in permanent
        ) + "".join(
            f"Final-Recipient: RFC822; {a}\nAction: delayed\nStatus: {_code(why, '4.4.1')}\n"
            f"Will-Retry-Until: Tue, 8 Dec 2026 14:08:50 GMT\n\n"
            for a, why in transient
        )
        status_part = (
            f"Reporting-MTA: dns; relay.example.net\nArrival-Date: {DATE}\n\n" + blocks.rstrip("\n")
        )
        body = multipart(
            boundary,
            ("", human),
            ("Content-Type: message/delivery-status", status_part),
            (
                "Content-Type: text/rfc822-headers",
                letter(", ".join(everyone), extra=extra).split("\n\n")[0],
            ),
        )
        content = f'multipart/report; report-type=delivery-status; boundary="{boundary}"'
    else:
        body = (
            human
            + "\n   ----- Original message follows -----\n\n"
            + letter(", ".join(everyone), extra=extra)
        )
        content = "text/plain; charset=us-ascii"
    text = (
        head(
            sender=SENDMAIL_FROM,
            subject=subject,
            content=content,
            extra="Auto-Submitted: auto-generated (failure)\n",
        )
        + body
    )
    failures = {a: P for a, _ in permanent} | {a: T for a, _ in transient}
    case(name, text, failures, "Sendmail" + (" DSN" if dsn else " text"))


def _code(diagnostic: str, default: str = "5.0.0") -> str:
    words = [w for w in diagnostic.split() if w.count(".") == 2 and w[0] in "245"]
    return words[0] if words else default


sendmail(
    "sendmail-text-unknown",
    permanent=[
        (
            "commission@rights.example.org",
            "550 5.1.1 <commission@rights.example.org>... User unknown",
        )
    ],
    extra=MAILMAN,
)
sendmail(
    "sendmail-text-no-enhanced-code",
    permanent=[
        ("secretary@rights.example.net", "550 <secretary@rights.example.net>... Mailbox disabled")
    ],
    extra=MAILMAN,
)
sendmail(
    "sendmail-text-mixed",
    permanent=[
        ("chair@rights.example.com", "550 5.1.1 <chair@rights.example.com>... User unknown")
    ],
    transient=[("vicechair@rights.example.com", "452 4.2.2 Mailbox full")],
    extra=MAILMAN,
)
sendmail(
    "sendmail-text-warning",
    permanent=[],
    transient=[("hotline@rights.example.org", "Connection timed out with mx.rights.example.org.")],
    warning=True,
    extra=MAILMAN,
)
sendmail(
    "sendmail-dsn-unknown",
    permanent=[("info@agency.example.org", "550 5.1.1 <info@agency.example.org>... User unknown")],
    dsn=True,
    extra=MAILMAN,
)
sendmail(
    "sendmail-dsn-mixed",
    permanent=[
        ("one@agency.example.net", "550 5.1.1 <one@agency.example.net>... User unknown"),
        ("two@agency.example.net", "553 5.1.3 <two@agency.example.net>... Invalid address"),
    ],
    transient=[("three@agency.example.net", "451 4.3.0 Temporary system problem")],
    dsn=True,
)
sendmail(
    "sendmail-dsn-warning",
    permanent=[],
    transient=[("four@agency.example.com", "Deferred: 421 4.4.2 Connection dropped")],
    warning=True,
    dsn=True,
    extra=MAILMAN,
)

# --- Gmail / Google Workspace text and DSN -------------------------------------------------------

case(
    "gmail-delay-text",
    head(
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.example.com>",
        subject="Delivery Status Notification (Delay)",
    )
    + (
        "This is an automatically generated Delivery Status Notification\n\n"
        "THIS IS A WARNING MESSAGE ONLY.\n\n"
        "YOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\n"
        "Delivery to the following recipient has been delayed:\n\n"
        "     inspector@labour.example.org\n\n"
        "Message will be retried for 2 more day(s)\n\n"
        "Technical details of temporary failure:\n"
        "The recipient server did not accept our requests to connect. [mx.labour.example.org. 192.0.2.60: timed out]\n\n"
        "----- Original message -----\n\n" + letter("inspector@labour.example.org", extra=MAILMAN)
    ),
    {"inspector@labour.example.org": T},
    "Gmail delay warning, text",
)
case(
    "gmail-failure-text",
    head(
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.example.com>",
        subject="Delivery Status Notification (Failure)",
    )
    + (
        "Delivery to the following recipient failed permanently:\n\n"
        "     minister.assistant@labour.example.net\n\n"
        "Technical details of permanent failure:\n"
        "Google tried to deliver your message, but it was rejected by the server for the recipient "
        "domain labour.example.net by mx.labour.example.net. [198.51.100.61].\n\n"
        "The error that the other server returned was:\n"
        "550 5.1.1 <minister.assistant@labour.example.net>: Recipient address rejected: User unknown\n\n"
        "----- Original message -----\n\n"
        + letter("minister.assistant@labour.example.net", extra=MAILMAN)
    ),
    {"minister.assistant@labour.example.net": P},
    "Gmail permanent failure, text",
)

# --- Other formats the Mailman detectors cover or the review names -----------------------------

case(
    "kundenserver-style",
    head(
        sender="Mail Delivery System <mailer-daemon@mail.example.com>",
        subject="Mail delivery failed: returning message to sender",
    )
    + (
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of\n"
        "its recipients. This is a permanent error. The following address\n"
        "failed:\n\n"
        "nonexistent.office@region.example.org:\n"
        "SMTP error from remote server for RCPT TO command, host: mx.region.example.org (192.0.2.71) reason: 550 Requested action not taken: mailbox unavailable\n\n"
        "--- The header of the original message is following. ---\n\n"
        + letter("nonexistent.office@region.example.org", extra=MAILMAN).split("\n\n")[0]
        + "\n"
    ),
    {"nonexistent.office@region.example.org": P},
    "IONOS-style text bounce without X-Failed-Recipients",
)
case(
    "mdaemon-text",
    head(sender="MDaemon@mail.example.net", subject="Permanent Delivery Failure")
    + (
        "The attached message had PERMANENT fatal delivery errors!\n\n"
        "After one or more unsuccessful delivery attempts the attached message has\n"
        "been removed from the mail queue on this server.  The number and frequency\n"
        "of delivery attempts are determined by local configuration parameters.\n\n"
        "YOUR MESSAGE WAS NOT DELIVERED TO ONE OR MORE RECIPIENTS!\n\n"
        "--- Session Transcript ---\n"
        " Thu 2026-12-03 14:08:51: Parsing message <mail.example.net\\pd50000012345.msg>\n"
        " Thu 2026-12-03 14:08:51: *  From: bounces+4242.5415ad171cfd1bf2158c@appeals.example.net\n"
        " Thu 2026-12-03 14:08:51: *  To: archive@district.example.net\n"
        " Thu 2026-12-03 14:08:52: --> RCPT To:<archive@district.example.net>\n"
        " Thu 2026-12-03 14:08:52: <-- 550 5.1.1 <archive@district.example.net>: mailbox unavailable\n"
        "--- End Transcript ---\n"
    ),
    {"archive@district.example.net": P},
    "MDaemon session transcript",
)
case(
    "smtp32-text",
    head(
        sender="Postmaster <postmaster@smtp32.example.com>",
        subject="Undeliverable Mail",
        null=False,
        extra="X-Mailer: <SMTP32 v8.15>\n",
    )
    + (
        "User mailbox exceeds allowed size: desk@smtp32.example.com\n\n"
        "Original message follows.\n\n" + letter("desk@smtp32.example.com", extra=MAILMAN)
    ),
    {"desk@smtp32.example.com": P},
    "SMTP32 (Imail) text bounce",
)
case(
    "no-address-readable",
    head(
        sender="Mail Delivery System <MAILER-DAEMON@filter.example.org>",
        subject="Undelivered Mail Returned to Sender",
    )
    + (
        "This is the mail system at host filter.example.org.\n\n"
        "Your message was rejected by the content filter and was not delivered.\n"
        "Reason: policy violation (554 5.7.1).\n"
    ),
    {},
    "a clear bounce that names no address",
)
case(
    "no-address-headers-only",
    head(
        sender="postmaster@gateway.example.com",
        subject="Returned mail: delivery problems",
        null=True,
    )
    + "Message could not be delivered. Please contact your administrator.\n",
    {},
    "a clear bounce that names no address",
)
case(
    "x-failed-only",
    head(
        sender="Mail Delivery System <Mailer-Daemon@mx2.example.org>",
        subject="Mail delivery failed",
        extra="X-Failed-Recipients: duty.officer@police.example.org\n",
    )
    + "Message rejected: 550 Administrative prohibition\n\n"
    "------ This is a copy of the message, including all the headers. ------\n\n"
    + letter("duty.officer@police.example.org", extra=MAILMAN),
    {"duty.officer@police.example.org": P},
    "Exim with a custom bounce text",
)
case(
    "imcea-smtp",
    head(
        sender=EXCH_FROM,
        subject="Undeliverable: Appeal on behalf of a prisoner of conscience",
        content='multipart/report; report-type=delivery-status; boundary="imcea"',
    )
    + multipart(
        "imcea",
        (
            "Content-Type: text/plain",
            "Delivery has failed to these recipients or groups:\n\nliaison@embassy.example.org\n",
        ),
        (
            "Content-Type: message/delivery-status",
            "Reporting-MTA: dns;EX03.embassy.example.org\n\n"
            "Final-Recipient: rfc822;IMCEASMTP-liaison+40embassy+2Eexample+2Eorg@embassy.example.org\n"
            "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound",
        ),
        ("Content-Type: message/rfc822", letter("liaison@embassy.example.org", extra=MAILMAN)),
    ),
    {"liaison@embassy.example.org": P},
    "Exchange encapsulated (IMCEA) SMTP address",
)
case(
    "base64-delivery-status",
    head(
        sender="Mail Delivery Subsystem <mailer-daemon@mx.example.net>",
        subject="Delivery Status Notification (Failure)",
        content='multipart/report; report-type=delivery-status; boundary="b64"',
    )
    + multipart(
        "b64",
        ("Content-Type: text/plain", "Your message could not be delivered to one recipient.\n"),
        (
            "Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64",
            "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBpZW50OiByZmM4\n"
            "MjI7IGV4dHJhZGl0aW9uQGRlc2suZXhhbXBsZS5uZXQKQWN0aW9uOiBmYWlsZWQKU3RhdHVzOiA1\n"
            "LjEuMQpEaWFnbm9zdGljLUNvZGU6IHNtdHA7IDU1MCA1LjEuMSB1c2VyIHVua25vd24K",
        ),
        ("Content-Type: message/rfc822", letter("extradition@desk.example.net", extra=MAILMAN)),
    ),
    {"extradition@desk.example.net": P},
    "a delivery-status part sent base64-encoded",
)

# --- more MTAs: OpenSMTPD, Courier, Microsoft 365, SMTPSVC, Exchange advisories ---------------

case(
    "opensmtpd-text",
    head(
        sender="Mailer Daemon <MAILER-DAEMON@smtpd.example.org>",
        subject="Delivery status notification: error",
    )
    + (
        "Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
        "An error has occurred while attempting to deliver a message for\n"
        "the following list of recipients:\n\n"
        "petitions@senate.example.org: 550 5.1.1 <petitions@senate.example.org>: Recipient address rejected\n\n"
        "Below is a copy of the original message:\n\n"
        + letter("petitions@senate.example.org", extra=MAILMAN)
    ),
    {"petitions@senate.example.org": P},
    "OpenSMTPD text bounce",
)
case(
    "opensmtpd-delay",
    head(
        sender="Mailer Daemon <MAILER-DAEMON@smtpd.example.org>",
        subject="Delivery status notification: delay",
    )
    + (
        "Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
        "An error has occurred while attempting to deliver a message for\n"
        "the following list of recipients:\n\n"
        "records@senate.example.net: 421 4.7.0 Try again later\n\n"
        "Delivery of this message has been delayed. Delivery attempts will continue.\n\n"
        "Below is a copy of the original message:\n\n"
        + letter("records@senate.example.net", extra=MAILMAN)
    ),
    {"records@senate.example.net": T},
    "OpenSMTPD delay notice",
)
case(
    "courier-dsn",
    head(
        sender="Courier mail server at mail.example.com <@>",
        subject="NOTICE: mail delivery status.",
        content='multipart/report; report-type=delivery-status; boundary="=_courier_0"',
    )
    + multipart(
        "=_courier_0",
        (
            "Content-Type: text/plain; charset=iso-8859-1",
            "This is a delivery status notification from mail.example.com,\n"
            "running the Courier mail server, version 1.1.8.\n\n"
            "The original message was received on Thu, 03 Dec 2026 14:08:50 +0000\n"
            "from appeals.example.net [192.0.2.10]\n\n"
            "---------------------------------------------------------------------------\n\n"
            "                           UNDELIVERABLE MAIL\n\n"
            "Your message to the following recipients cannot be delivered:\n\n"
            "<petition@courier.example.com>:\n"
            "    mx.courier.example.com [192.0.2.90]:\n"
            ">>> RCPT TO:<petition@courier.example.com>\n"
            "<<< 550 5.1.1 <petition@courier.example.com>... User unknown\n",
        ),
        (
            "Content-Type: message/delivery-status",
            "Reporting-MTA: dns; mail.example.com\nArrival-Date: " + DATE + "\n\n"
            "Final-Recipient: rfc822; petition@courier.example.com\nAction: failed\nStatus: 5.0.0\n"
            "Remote-MTA: dns; mx.courier.example.com\n"
            "Diagnostic-Code: smtp; 550 5.1.1 <petition@courier.example.com>... User unknown",
        ),
        (
            "Content-Type: text/rfc822-headers",
            letter("petition@courier.example.com", extra=MAILMAN).split("\n\n")[0],
        ),
    ),
    {"petition@courier.example.com": P},
    "Courier MTA report",
)
case(
    "office365-text-only",
    head(
        sender="Microsoft Outlook <postmaster@tenant.example.onmicrosoft.example.com>",
        subject="Undeliverable: Appeal on behalf of a prisoner of conscience",
        content="text/html; charset=us-ascii",
    )
    + (
        "<html><body><p><b>Your message to governor.office@state.example.org couldn't be delivered.</b></p>"
        "<p>governor.office wasn't found at state.example.org.</p>"
        "<p>Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'</p>"
        "</body></html>\n"
    ),
    {"governor.office@state.example.org": P},
    "Microsoft 365 NDR whose report part was stripped by a gateway",
)
case(
    "smtpsvc-text",
    head(
        sender="postmaster@iis.example.net",
        subject="Delivery Status Notification (Failure)",
        content='multipart/mixed; boundary="9B095B5ADSN=_01D"',
    )
    + multipart(
        "9B095B5ADSN=_01D",
        (
            "",
            "This is an automatically generated Delivery Status Notification.\n\n"
            "Delivery to the following recipients failed.\n\n       webmaster@iis.example.net\n",
        ),
        ("Content-Type: message/rfc822", letter("webmaster@iis.example.net", extra=MAILMAN)),
    ),
    {"webmaster@iis.example.net": P},
    "IIS SMTPSVC text notice",
)
case(
    "exchange-advisory-delay",
    head(
        sender="System Administrator <postmaster@ministry.example.org>",
        subject="Delivery delayed: Appeal on behalf of a prisoner of conscience",
    )
    + (
        "This is an advisory-only email. Please do not reply to it.\n\n"
        'Delivery of your message to the following recipient has been delayed: "complaints@ministry.example.org"\n'
        "Delivery of the message has been postponed; the server will keep trying to deliver it\n"
        'for 2 days. Last error: 451 4.4.0 Primary target IP address responded with: "421 4.2.1 Unable to connect."\n'
    ),
    {"complaints@ministry.example.org": T},
    "Exchange delay advisory",
)
exim_classic(
    "exim-classic-three-with-local",
    [
        ("one@bureau.example.org", "Unrouteable address"),
        (
            "two@bureau.example.org",
            "SMTP error from remote mail server after RCPT TO:<two@bureau.example.org>:\n"
            "    host mx.bureau.example.org [192.0.2.12]: 550 5.7.1 Relaying denied",
        ),
        ("three@bureau.example.org", "all relevant MX records point to non-existent hosts"),
    ],
    extra=MAILMAN,
)


# --- not bounces ---------------------------------------------------------------------------------


def reply(
    name: str,
    *,
    sender: str,
    subject: str,
    body: str,
    extra: str = "",
    note: str,
    content: str = "text/plain; charset=utf-8",
    null: bool = False,
) -> None:
    path = "" if null else sender.split("<")[-1].rstrip(">")
    text = (
        f"Return-Path: <{path}>\n"
        f"From: {sender}\nTo: Appeals <letters@appeals.example.net>\nSubject: {subject}\n"
        f"Date: {DATE}\nMessage-ID: <r{zlib.crc32(name.encode())}@mail.example.org>\n"
        f"In-Reply-To: {LETTER_ID}\nMIME-Version: 1.0\nContent-Type: {content}\n{extra}\n{body}"
    )
    case(name, text, None, note)


QUOTE = (
    "\n\nOn Thu, 3 Dec 2026 at 14:08, Appeals <letters@appeals.example.net> wrote:\n"
    "> Dear Sir or Madam,\n> We write about the prisoner held under article 5.1.2 ...\n"
)
reply(
    "reply-human-plain",
    sender="Olga Berg <o.berg@ministry.example.org>",
    subject="Re: Appeal on behalf of a prisoner of conscience",
    body="Dear volunteers,\n\nYour letter was received and passed to the department (ref. 5.1.1/2026)."
    + QUOTE,
    note="a person's reply with a number that looks like a status",
)
reply(
    "reply-human-mentions-failure",
    sender="Clerk <clerk@court.example.com>",
    subject="Re: Appeal on behalf of a prisoner of conscience",
    body="Hello,\n\nYour previous message could not be delivered to the judge because his mailbox\n"
    "was full, so I forward it by hand. Delivery failed twice, sorry.\n" + QUOTE,
    note="a person writing about a failed delivery",
)
reply(
    "reply-forwarded-bounce",
    sender="Anna Weiss <a.weiss@ombudsman.example.org>",
    subject="Fwd: Mail delivery failed: returning message to sender",
    body="Hello, I got the bounce below when answering you. Which address should I use?\n\n"
    "---------- Forwarded message ---------\nFrom: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
    "Subject: Mail delivery failed: returning message to sender\n\n"
    "This message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n\n"
    "  letters@appeals.example.net\n    550 5.1.1 User unknown\n",
    note="a person forwarding a bounce they received",
)
reply(
    "reply-quoting-qmail",
    sender="Secretary <secretary@region.example.net>",
    subject="Re: failure notice",
    body="We fixed the mailbox, please send again.\n\n> Hi. This is the qmail-send program at mail.example.net.\n"
    "> I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "> This is a permanent error; I've given up. Sorry it didn't work out.\n>\n"
    "> <info@region.example.net>:\n> Sorry, no mailbox here by that name. (#5.1.1)\n",
    note="a reply quoting a qmail bounce",
)
reply(
    "reply-html",
    sender="Press Office <press@interior.example.com>",
    subject="RE: Appeal on behalf of a prisoner of conscience",
    content="text/html; charset=utf-8",
    body="<html><body><p>Thank you for your letter.</p><p>The case number is 4.2.2-17.</p></body></html>\n",
    note="an HTML reply",
)
reply(
    "reply-from-postmaster-person",
    sender="Postmaster <postmaster@small.example.org>",
    subject="Re: Appeal on behalf of a prisoner of conscience",
    body="Hello, I run the mail here; the minister reads this address too. We received your appeal.\n"
    + QUOTE,
    note="a person writing from a postmaster address",
)
reply(
    "auto-exchange-ooo",
    sender="Deputy Minister <deputy@ministry.example.org>",
    subject="Automatic reply: Appeal on behalf of a prisoner of conscience",
    extra="Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\n",
    body="I am out of the office until 14 December with limited access to e-mail.\n",
    note="Exchange out-of-office",
)
reply(
    "auto-null-sender-ooo",
    sender="Registry <registry@court.example.net>",
    subject="Out of Office: Appeal on behalf of a prisoner of conscience",
    extra="Auto-Submitted: auto-replied\n",
    null=True,
    body="The registry is closed until Monday. Messages are not delivered to staff meanwhile;\n"
    "your message could not be read before then.\n",
    note="RFC 3834 auto-reply (these are sent with a null sender too)",
)
reply(
    "auto-german",
    sender="Büro <buero@behoerde.example.org>",
    subject="Abwesenheitsnotiz: Appeal on behalf of a prisoner of conscience",
    extra="X-Autoreply: yes\n",
    body="Ich bin bis 10.12. nicht im Büro.\n",
    note="German vacation notice",
)
reply(
    "auto-ticket",
    sender="Citizens' Desk <noreply@desk.example.com>",
    subject="[Ticket #5.1.1-2026] We received your message",
    extra="Auto-Submitted: auto-generated\nPrecedence: bulk\n",
    body="Your request was registered under number 550-2026. Do not reply to this message.\n",
    note="a ticket acknowledgment",
)
reply(
    "auto-vacation-gmail",
    sender="Ivan Petrov <i.petrov@council.example.org>",
    subject="Re: Appeal on behalf of a prisoner of conscience",
    extra="Auto-Submitted: auto-replied\nPrecedence: bulk\n",
    body="I am travelling and will answer on my return.\n",
    note="Gmail vacation responder",
)
reply(
    "read-receipt",
    sender="Minister <minister@interior.example.com>",
    subject="Read: Appeal on behalf of a prisoner of conscience",
    content='multipart/report; report-type=disposition-notification; boundary="mdn"',
    body=multipart(
        "mdn",
        ("Content-Type: text/plain", "Your message was read on 3 December 2026.\n"),
        (
            "Content-Type: message/disposition-notification",
            "Reporting-UA: interior.example.com; Microsoft Outlook 16.0\n"
            "Final-Recipient: rfc822;minister@interior.example.com\n"
            f"Original-Message-ID: {LETTER_ID}\nDisposition: manual-action/MDN-sent-manually; displayed",
        ),
    ),
    note="a read receipt (RFC 8098 MDN), not a delivery report",
)
reply(
    "reply-subject-undeliverable-words",
    sender="Helpdesk <helpdesk@justice.example.net>",
    subject="Re: Undeliverable letters to the ministry",
    body="We checked: letters to the old address are undeliverable since the move; use this one.\n"
    + QUOTE,
    note="a person's reply whose subject talks about undeliverable mail",
)
reply(
    "reply-with-failed-header-words",
    sender="Office <office@region.example.com>",
    subject="Re: Appeal on behalf of a prisoner of conscience",
    body="The following address(es) failed to reach us before: none. We answer now.\n\nRemote host said: hello\n",
    note="a reply that happens to use bounce words",
)
reply(
    "reply-delivery-notification-word",
    sender="Courier desk <courier@post.example.org>",
    subject="Delivery notification for your parcel appeal",
    body="Your paper letter was delivered to the prosecutor's office on 2 December.\n",
    note="a person talking about delivery of a paper letter",
)


def main() -> None:
    manifest_path = CORPUS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest = {k: v for k, v in manifest.items() if not k.startswith("hb-")}
    for old in CORPUS.glob("hb-*.eml"):
        old.unlink()
    for name, (text, truth) in CASES.items():
        (CORPUS / name).write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
        manifest[name] = truth
    manifest_path.write_text(
        json.dumps(dict(sorted(manifest.items())), indent=1, ensure_ascii=False) + "\n"
    )
    print(f"{len(CASES)} hand-built files written")


if __name__ == "__main__":
    main()
