"""Token-bucket rate limiting for the HTTP front end.

Each API key gets its own bucket. Buckets refill continuously at a fixed
rate, and every request pays one token plus a surcharge that grows with the
prompt length, so a client sending huge prompts is throttled sooner.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional


@dataclass
class BucketConfig:
    capacity: float = 60.0
    refill_per_sec: float = 1.0
    cost_per_1k_tokens: float = 0.5


@dataclass
class Bucket:
    tokens: float
    updated_at: float
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def calc_wait(bucket: Bucket, cost: float, cfg: BucketConfig) -> float:
    """Return how many seconds until `bucket` can pay `cost`."""
    deficit = cost - bucket.tokens
    if deficit <= 0:
        return 0.0
    return deficit / cfg.refill_per_sec


class RateLimiter:
    """Per-key token buckets with lazy refill.

    ``try_acquire`` never blocks; ``acquire`` sleeps for the delay
    reported by ``calc_wait`` and then tries again.
    """

    def __init__(self, cfg: Optional[BucketConfig] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cfg = cfg or BucketConfig()
        self._clock = clock
        self._buckets: Dict[str, Bucket] = {}
        self._registry_lock = threading.Lock()

    def _bucket_for(self, key: str) -> Bucket:
        with self._registry_lock:
            b = self._buckets.get(key)
            if b is None:
                b = Bucket(tokens=self._cfg.capacity, updated_at=self._clock())
                self._buckets[key] = b
            return b

    def _refill(self, b: Bucket) -> None:
        now = self._clock()
        elapsed = max(0.0, now - b.updated_at)
        b.tokens = min(self._cfg.capacity,
                       b.tokens + elapsed * self._cfg.refill_per_sec)
        b.updated_at = now

    def cost_for(self, prompt_tokens: int) -> float:
        return 1.0 + (prompt_tokens / 1000.0) * self._cfg.cost_per_1k_tokens

    def try_acquire(self, key: str, prompt_tokens: int = 0) -> bool:
        b = self._bucket_for(key)
        cost = self.cost_for(prompt_tokens)
        with b.lock:
            self._refill(b)
            if b.tokens >= cost:
                b.tokens -= cost
                return True
            return False

    def retry_after(self, key: str, prompt_tokens: int = 0) -> float:
        """Seconds the client should wait, suitable for a Retry-After header."""
        b = self._bucket_for(key)
        cost = self.cost_for(prompt_tokens)
        with b.lock:
            self._refill(b)
            return calc_wait(b, cost, self._cfg)

    def acquire(self, key: str, prompt_tokens: int = 0,
                timeout: Optional[float] = None) -> bool:
        deadline = None if timeout is None else self._clock() + timeout
        b = self._bucket_for(key)
        cost = self.cost_for(prompt_tokens)
        if cost > self._cfg.capacity:
            # Can never be satisfied, even with a full bucket.
            return False
        while True:
            with b.lock:
                self._refill(b)
                if b.tokens >= cost:
                    b.tokens -= cost
                    return True
                wait = calc_wait(b, cost, self._cfg)
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                wait = min(wait, remaining)
            time.sleep(wait)

    def snapshot(self) -> Dict[str, float]:
        """Current token balance per key, rounded for display."""
        with self._registry_lock:
            items = list(self._buckets.items())
        out = {}
        for key, b in items:
            with b.lock:
                self._refill(b)
                out[key] = round(b.tokens, 3)
        return out

    def forget(self, key: str) -> None:
        with self._registry_lock:
            self._buckets.pop(key, None)
