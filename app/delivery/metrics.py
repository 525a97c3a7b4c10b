"""A worker's own figures for Prometheus: its sends by outcome, and how long claims and sends take.

Kept in this process's default registry and served, when `APPEALS_WORKER_METRICS_PORT` is set,
by prometheus-client's own HTTP server on `APPEALS_WORKER_METRICS_HOST` (loopback unless said
otherwise: the figures are for the operator's scraper, not the world). The queue as a whole
(every worker's letters) is on the API's `/metrics`.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from app.delivery.tally import Tally

SENDS = Counter(
    "appeals_worker_sends",
    "Letters this worker tried, by channel and outcome",
    ["channel", "outcome"],
)
CLAIM_SECONDS = Histogram("appeals_worker_claim_seconds", "Time to claim a batch", ["channel"])
SEND_SECONDS = Histogram(
    "appeals_worker_round_send_seconds", "Time to send a claimed batch", ["channel"]
)


def count(tally: Tally, *, channel: str) -> None:
    """Add one round's outcomes to the counters."""
    for outcome, n in (
        ("sent", tally.sent),
        ("retry", tally.retrying),
        ("failed", tally.failed),
        ("handed_back", tally.handed_back),
        ("taken_over", tally.taken_over),
    ):
        if n:
            SENDS.labels(channel, outcome).inc(n)
