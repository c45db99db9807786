"""Rate limits with the `limits` package: in memory for one worker, Redis when
`REFLEX_REDIS_URL` is set so that every worker counts together."""

import math
import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from heho_app.settings import get_settings


class RateLimited(Exception):
    """Too many attempts; `retry_after` seconds until the next one is allowed."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"Too many attempts. Try again in {self.retry_after} s."


@dataclass
class Limiter:
    storage: Storage

    def __post_init__(self) -> None:
        self._strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, rules: list[tuple[str, str, str]]) -> None:
        """Count one attempt against every (limit, kind, identifier) rule.

        Raises RateLimited with the longest wait among the rules that are exhausted;
        an attempt refused by one rule is not counted against the others. The count
        itself is atomic (a lock in memory, a script in Redis): of concurrent attempts
        that all passed the first test, those beyond the limit are still refused (and
        may then have been counted against the rules before the one that refused).
        """
        items: list[tuple[RateLimitItem, str, str]] = [
            (parse(limit), kind, identifier) for limit, kind, identifier in rules if identifier
        ]
        waits = [
            self._retry_after(item, kind, identifier)
            for item, kind, identifier in items
            if not self._strategy.test(item, kind, identifier)
        ]
        if waits:
            raise RateLimited(max(waits))
        for item, kind, identifier in items:
            if not self._strategy.hit(item, kind, identifier):
                raise RateLimited(self._retry_after(item, kind, identifier))

    def _retry_after(self, item: RateLimitItem, kind: str, identifier: str) -> int:
        stats = self._strategy.get_window_stats(item, kind, identifier)
        return math.ceil(stats.reset_time - time.time())

    def reset(self) -> None:
        self.storage.reset()


@lru_cache
def get_limiter() -> Limiter:
    redis_url = get_settings().redis_url
    if redis_url:
        return Limiter(storage_from_string(redis_url))
    return Limiter(MemoryStorage())
