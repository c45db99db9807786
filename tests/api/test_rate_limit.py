import asyncio
import time
from collections import Counter

from heho_app.api.ratelimit import RateLimiter
from heho_app.devtools.processes import free_port
from heho_app.services.api_keys import VerifiedKey
from tests.api.conftest import bearer


async def test_a_burst_of_100_with_a_limit_of_60_lets_exactly_60_through(client, make_key, user):
    key = make_key(user, limit=60)
    responses = await asyncio.gather(
        *(client.post("/api/v1/verify-user", headers=bearer(key)) for _ in range(100))
    )
    assert Counter(r.status_code for r in responses) == {200: 60, 429: 40}
    for response in responses:
        assert response.headers["x-ratelimit-limit"] == "60"
        assert int(response.headers["x-ratelimit-reset"]) >= int(time.time())
    refused = [r for r in responses if r.status_code == 429]
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    assert all(r.headers["x-ratelimit-remaining"] == "0" for r in refused)
    assert refused[0].json()["error"]["code"] == "rate_limited"
    remaining = sorted(
        int(r.headers["x-ratelimit-remaining"]) for r in responses if r.status_code == 200
    )
    assert remaining == list(range(60))


async def test_each_key_has_its_own_budget(client, make_key, user):
    small, other = make_key(user, limit=2), make_key(user, limit=2)
    statuses = [
        (await client.post("/api/v1/verify-user", headers=bearer(small))).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert (await client.post("/api/v1/verify-user", headers=bearer(other))).status_code == 200


async def test_refused_keys_do_not_spend_anyones_budget(client, make_key, user):
    key = make_key(user, limit=1)
    for _ in range(5):
        await client.post("/api/v1/verify-user", headers={"Authorization": "Bearer nope"})
    assert (await client.post("/api/v1/verify-user", headers=bearer(key))).status_code == 200


async def test_an_unreachable_redis_refuses_with_503_not_unlimited(make_key, user, access_log):
    import httpx

    from heho_app.api.app import create_api

    port = free_port()  # nothing listens there
    api = create_api(limiter=RateLimiter(f"redis://127.0.0.1:{port}/0"), access_log=access_log)
    key = make_key(user)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://heho.test") as client:
        response = await client.post("/api/v1/verify-user", headers=bearer(key))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response.headers["retry-after"] == "5"


async def test_with_redis_two_workers_share_one_budget(redis_url):
    key = VerifiedKey(id=987_654, user_id=1, prefix="0123456789ab", rate_limit_per_minute=10)
    workers = [RateLimiter(redis_url), RateLimiter(redis_url)]
    results = await asyncio.gather(*(workers[i % 2].hit(key) for i in range(16)))
    assert sum(state.allowed for state in results) == 10
    refused = [state for state in results if not state.allowed]
    assert all(state.remaining == 0 and state.retry_after() >= 1 for state in refused)
