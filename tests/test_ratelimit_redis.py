"""With REFLEX_REDIS_URL, every worker counts against the same limits (real Redis)."""

import pytest
from limits.storage import storage_from_string

from heho_app.services.ratelimit import Limiter, RateLimited


def test_two_workers_share_one_count(redis_url):
    first_worker = Limiter(storage_from_string(redis_url))
    second_worker = Limiter(storage_from_string(redis_url))
    rules = [("3/minute", "login:account", "ada@example.com")]
    first_worker.hit(rules)
    second_worker.hit(rules)
    first_worker.hit(rules)
    with pytest.raises(RateLimited) as limited:
        second_worker.hit(rules)
    assert 1 <= limited.value.retry_after <= 60
    first_worker.reset()


def test_the_app_uses_redis_when_reflex_redis_url_is_set(redis_url, monkeypatch):
    from heho_app.services import ratelimit
    from heho_app.settings import get_settings

    monkeypatch.setattr(get_settings(), "redis_url", redis_url)
    ratelimit.get_limiter.cache_clear()
    try:
        limiter = ratelimit.get_limiter()
        assert type(limiter.storage).__name__ == "RedisStorage"
        limiter.hit([("1/minute", "reset:account", "grace@example.com")])
        with pytest.raises(RateLimited):
            Limiter(storage_from_string(redis_url)).hit(
                [("1/minute", "reset:account", "grace@example.com")]
            )
        limiter.reset()
    finally:
        ratelimit.get_limiter.cache_clear()
