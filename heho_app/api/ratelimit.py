"""Requests per minute per API key, with the `limits` package (moving window).

One worker counts in its own memory; with REFLEX_REDIS_URL set (several workers),
counts live in Redis, where the moving window is one atomic Lua script, so every
worker sees the same budget.
"""

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from heho_app.services.api_keys import VerifiedKey

NAMESPACE = "heho-api-key"


@dataclass(frozen=True)
class RateLimitState:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the oldest counted request leaves the window

    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        """Sent on every authenticated response."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


def _redis_storage(url: str) -> RedisStorage:
    """REFLEX_REDIS_URL is `redis://…` or `rediss://…`; limits' async client wants its scheme."""
    return RedisStorage(f"async+{url}", implementation="redispy")


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: Storage = _redis_storage(redis_url) if redis_url else MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, key: VerifiedKey) -> RateLimitState:
        """Count one request of the key, unless its budget for the window is spent."""
        item = RateLimitItemPerMinute(key.rate_limit_per_minute)
        identity = (NAMESPACE, str(key.id))
        allowed = await self._strategy.hit(item, *identity)
        stats = await self._strategy.get_window_stats(item, *identity)
        return RateLimitState(
            allowed=allowed, limit=item.amount, remaining=stats.remaining, reset_at=stats.reset_time
        )
