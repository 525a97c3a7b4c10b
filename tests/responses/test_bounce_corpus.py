"""Bounce classification measured against the corpus in bounce_corpus/ (see its README).

Every file is read by `parsing.parse`, as inbound mail is, and compared with manifest.json:
the share of bounces classified as bounces, the share of the failed addresses found among the
bounce's failures, and the share of those addresses whose permanent/temporary reading is right
(an address not found counts as wrong there too). A bounce read as a reply or an auto-reply
would become an office's answer, so none may be; nor may a person's mail be read as a bounce.
`measure` is also what bench/bounce_corpus.py prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.responses.models import InboundKind
from app.responses.parsing import parse

CORPUS = Path(__file__).parent / "bounce_corpus"


@dataclass
class Figures:
    bounces: int = 0
    read_as_bounce: int = 0
    addresses: int = 0
    found: int = 0
    kind_right: int = 0
    extra: int = 0  # failures reported that the truth does not list
    non_bounces: int = 0
    bounces_read_as_responses: list[str] = field(default_factory=list)
    non_bounces_read_as_bounces: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # what went wrong, file by file

    @staticmethod
    def share(part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 100.0

    def lines(self) -> list[str]:
        return [
            f"bounces read as bounces: {self.read_as_bounce}/{self.bounces} "
            f"({self.share(self.read_as_bounce, self.bounces):.1f} %)",
            f"failed addresses found:  {self.found}/{self.addresses} "
            f"({self.share(self.found, self.addresses):.1f} %), {self.extra} extra",
            f"permanent/temporary right: {self.kind_right}/{self.addresses} "
            f"({self.share(self.kind_right, self.addresses):.1f} %)",
            f"bounces read as replies/auto-replies: {len(self.bounces_read_as_responses)}; "
            f"non-bounces read as bounces: {len(self.non_bounces_read_as_bounces)}/"
            f"{self.non_bounces}",
        ]


def measure(folder: Path = CORPUS) -> Figures:
    """Parse every file the manifest names and count what was read right."""
    manifest: dict[str, dict[str, object]] = json.loads((folder / "manifest.json").read_text())
    figures = Figures()
    for name, truth in sorted(manifest.items()):
        parsed = parse((folder / name).read_bytes())
        is_bounce = parsed.kind is InboundKind.bounce
        if not truth["bounce"]:
            figures.non_bounces += 1
            if is_bounce:
                figures.non_bounces_read_as_bounces.append(name)
            continue
        figures.bounces += 1
        if is_bounce:
            figures.read_as_bounce += 1
        else:
            figures.bounces_read_as_responses.append(f"{name}: {parsed.kind.value}")
        expected = truth["failures"]
        assert isinstance(expected, dict)
        reported = {r.recipient: r for r in parsed.bounce.failures} if parsed.bounce else {}
        figures.extra += len(set(reported) - set(expected))
        for address, kind in expected.items():
            figures.addresses += 1
            block = reported.get(address)
            if block is None:
                figures.misses.append(f"{name}: {address} not found (got {sorted(reported)})")
                continue
            figures.found += 1
            if block.hard == (kind == "permanent"):
                figures.kind_right += 1
            else:
                figures.misses.append(
                    f"{name}: {address} {kind}, read {block.action} {block.status}"
                )
    return figures


@pytest.fixture(scope="module")
def figures() -> Figures:
    result = measure()
    print("\nbounce corpus:\n  " + "\n  ".join(result.lines() + result.misses))
    return result


class TestCorpus:
    def test_every_file_has_its_truth_and_every_truth_its_file(self) -> None:
        manifest = json.loads((CORPUS / "manifest.json").read_text())
        assert set(manifest) == {p.name for p in CORPUS.glob("*.eml")}
        assert sum(1 for t in manifest.values() if t["bounce"]) >= 100
        assert sum(1 for t in manifest.values() if not t["bounce"]) >= 15

    def test_bounces_addresses_and_their_permanence_are_read_right(self, figures: Figures) -> None:
        assert figures.share(figures.read_as_bounce, figures.bounces) >= 99
        assert figures.share(figures.found, figures.addresses) >= 97
        assert figures.share(figures.kind_right, figures.addresses) >= 97

    def test_no_bounce_is_counted_as_an_answer(self, figures: Figures) -> None:
        assert figures.bounces_read_as_responses == []

    def test_no_persons_mail_is_read_as_a_bounce(self, figures: Figures) -> None:
        assert figures.non_bounces_read_as_bounces == []
