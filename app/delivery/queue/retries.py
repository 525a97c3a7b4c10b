"""When to try a temporarily failed delivery again, and when to give up.

The waits grow from minutes to hours (`retry_delays_minutes`, the last one repeating) and are
stretched by up to a fifth at random, so letters that failed together do not all come back
together. A delivery that has been failing for `retry_give_up_days` fails for good, with the
last reason kept.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta


def next_attempt(
    *,
    attempt: int,
    failing_since: datetime,
    now: datetime,
    delays_minutes: Sequence[int],
    give_up_days: float,
    rng: random.Random,
) -> datetime | None:
    """The time of the next attempt after failed attempt number `attempt` (1-based), or None
    when it is time to give up."""
    if not delays_minutes:
        return None
    wait = delays_minutes[min(attempt, len(delays_minutes)) - 1]
    when = now + timedelta(minutes=wait * rng.uniform(1.0, 1.2))
    if when - failing_since > timedelta(days=give_up_days):
        return None
    return when
