"""A loopback SMTP sink that plays a remote mail server for the MTAs that made the corpus.

Run on 127.0.0.1 only, as the smarthost of Debian's Exim or Postfix: it refuses recipients by their
local part (`gone*`: 550 5.1.1, `full*`: 452 4.2.2, `busy*`: 421 4.3.2) so the MTA writes real
bounces and delay warnings, and saves every message it accepts (the DSNs come back through it,
being addressed to a remote sender) as a numbered .eml file in the output folder.
Run: `python sink.py OUTPUT_DIR [PORT]`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

REFUSALS = {
    "gone": "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
    "full": "452 4.2.2 <{rcpt}>: Mailbox full, try again later",
    "busy": "421 4.3.2 Service not available, closing transmission channel",
}


class Sink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        local = address.split("@")[0].lower()
        for prefix, reply in REFUSALS.items():
            if local.startswith(prefix):
                return reply.format(rcpt=address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        number = len(list(self.folder.glob("*.eml"))) + 1
        data = envelope.original_content or b""
        head = f"X-Sink-Envelope: from=<{envelope.mail_from}> to={','.join(envelope.rcpt_tos)}\n"
        (self.folder / f"{number:03d}.eml").write_bytes(head.encode() + data)
        return "250 2.0.0 Saved"


async def main(folder: Path, port: int) -> None:
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2525))
