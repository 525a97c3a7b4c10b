"""What one round of a worker did, counted as it goes and logged as one line.

An operator reading a worker's log wants one line per round that did something: how many letters
it claimed (and how many of those it took over from a worker whose lease expired), how many the
server took, how many wait for a retry, failed for good, were handed back unspent, or were held
back for the office's pacing. Failures are counted by class (the SMTP reply code, or the kind of
error), never with their text: a server's reply may quote the office's address.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Tally:
    claimed: int = 0
    taken_over: int = 0  # of `claimed`: leases a dead (or stalled) worker left
    held: int = 0  # not claimed: the office's pacing holds them for later
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    handed_back: int = 0
    classes: Counter[str] = field(default_factory=Counter)  # failures by reply code or kind

    def failure(self, code: int | None, *, temporary: bool) -> None:
        if temporary:
            self.retrying += 1
        else:
            self.failed += 1
        self.classes[str(code) if code is not None else "no reply"] += 1

    def line(self, what: str) -> str | None:
        """The round as one log line, or None when it did nothing worth a line."""
        if not (self.claimed or self.held):
            return None
        parts = [f"{self.claimed} claimed"]
        if self.taken_over:
            parts[0] += f" ({self.taken_over} taken over from expired leases)"
        parts += [f"{self.sent} sent", f"{self.retrying} to retry", f"{self.failed} failed"]
        if self.handed_back:
            parts.append(f"{self.handed_back} handed back unspent")
        if self.held:
            parts.append(f"{self.held} held for pacing")
        if self.classes:
            by_class = ", ".join(f"{name}: {n}" for name, n in sorted(self.classes.items()))
            parts.append(f"failures by class: {by_class}")
        return f"{what}: " + ", ".join(parts)
