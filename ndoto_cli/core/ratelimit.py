"""In-memory rate limits: a token bucket per key (a client address, a contact).

Why a token bucket: constant memory per key and one float update per request; "N per minute"
means a burst of N, then one more every 60/N seconds. The limits live in one process (each
``ndoto serve`` counts its own clients); the database-backed flood guard of a conversation
(``messages.check_flood``) is the one that holds across processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class Limiter:
    """``per_minute`` events per key; at most ``max_keys`` keys are remembered (least recent go)."""

    def __init__(self, per_minute: int, *, max_keys: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens regained per second
        self.max_keys = max_keys
        self._clock = time.monotonic  # tests replace it
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def wait(self, key: str) -> float | None:
        """Seconds until ``key`` may act again, or None if it may act now (nothing is used)."""
        tokens = self._tokens(key, self._clock())
        return None if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def hit(self, key: str) -> float | None:
        """Use one token: None when allowed, else the seconds to wait (and nothing is used)."""
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens < 1.0:
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None
