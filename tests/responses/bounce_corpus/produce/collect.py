"""Copies the DSNs an MTA sent to the sink into the corpus, with their ground truth.

The sink (sink.py) saved every message it accepted; the ones with a null envelope sender are the
MTA's reports. Each becomes `<mta>-NNN.eml` (the sink's envelope line replaced by the
`Return-Path: <>` a mailbox delivery would add). The truth does not come from parsing the report:
the failed addresses are the letter's recipients (send.sh) that the report's first, human-readable
part names, and whether each failure is permanent follows from how the sink or the MTA refused
that recipient (`gone*` 550 and an unknown local user: permanent; `full*` 452 and `busy*` 421:
temporary, also when the MTA finally gives up on them). Run: `python collect.py MTA SINK_DIR`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent
LETTER = re.compile(rb"<delivery-[a-z]+-(\d+)\.")
# send.sh's letters: number -> recipients (the local user's domain is the MTA host's name).
RECIPIENTS = {
    1: ["gone-prosecutor@mx.example.org"],
    2: ["nosuch@{local}"],
    3: ["full-registry@mx.example.org"],
    4: ["busy-ombudsman@mx.example.com"],
    5: ["gone-one@mx.example.org", "full-two@mx.example.org", "accepted@mx.example.org"],
    6: ["gone-a@mx.example.org", "gone-b@mx.example.net"],
    7: ["gone-mailman@mx.example.org"],
    8: ["full-minister@mx.example.net", "nosuch2@{local}"],
}


def kind(address: str) -> str:
    local = address.split("@")[0]
    return "temporary" if local.startswith(("full", "busy")) else "permanent"


def main(mta: str, sink: Path, local: str) -> None:
    manifest_path = CORPUS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest = {k: v for k, v in manifest.items() if not k.startswith(f"{mta}-")}
    for old in CORPUS.glob(f"{mta}-*.eml"):
        old.unlink()
    count = 0
    for path in sorted(sink.glob("*.eml")):
        raw = path.read_bytes()
        first, _, rest = raw.partition(b"\n")
        if b"from=<<>>" not in first and b"from=<>" not in first:
            continue  # a letter the sink accepted, not a report
        found = LETTER.search(rest)
        if found is None:
            continue
        # The human-readable part: everything before the machine-readable report or the copy.
        human = re.split(rb"(?im)^content-type: *(?:message|text/rfc822-headers)", rest)[0]
        human = human.split(b"\n\n", 1)[-1]  # without the report's own headers
        recipients = [r.format(local=local) for r in RECIPIENTS[int(found.group(1))]]
        failures = {r: kind(r) for r in recipients if r.encode() in human}
        count += 1
        name = f"{mta}-{count:03d}.eml"
        (CORPUS / name).write_bytes(b"Return-Path: <>\n" + rest)
        manifest[name] = {"bounce": True, "failures": failures, "note": f"real {mta} report"}
    manifest_path.write_text(
        json.dumps(dict(sorted(manifest.items())), indent=1, ensure_ascii=False) + "\n"
    )
    print(f"{count} {mta} reports collected")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "vm")
