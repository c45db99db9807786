from urllib.parse import quote

import pytest
from sqlmodel import select

from heho_app.models import AccessLogEntry
from heho_app.services.api_keys import revoke_api_key, rotate_api_key
from tests.api.conftest import bearer

INVALID_KEY = {
    "error": {
        "code": "invalid_api_key",
        "message": "A valid API key is required: send 'Authorization: Bearer <key>'.",
    }
}


async def test_a_valid_key_is_accepted(client, key, user):
    response = await client.post("/api/v1/verify-user", headers=bearer(key))
    assert response.status_code == 200
    assert response.json()["id"] == user.id


async def test_health_and_the_spec_need_no_key(client):
    assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
    assert (await client.get("/api/v1/openapi.json")).status_code == 200
    assert (await client.get("/api/v1/docs")).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer heho_0123456789ab_" + "A" * 43,  # well formed, unknown
        "Token {key}",
        "Bearer {key}x",
        "Bearer {key_other_secret}",
    ],
)
async def test_missing_malformed_and_unknown_keys_get_one_401(client, key, header):
    prefix = key.plaintext.rsplit("_", 1)[0]
    if header is not None:
        header = header.format(key=key.plaintext, key_other_secret=f"{prefix}_{'B' * 43}")
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/v1/chatbots", headers=headers)
    assert response.status_code == 401
    assert response.json() == INVALID_KEY
    assert response.headers["www-authenticate"] == "Bearer"
    assert "x-ratelimit-limit" not in response.headers


async def test_revoked_and_rotated_away_keys_get_the_same_401(client, db, user, make_key):
    revoked, rotated = make_key(user), make_key(user)
    revoke_api_key(db, user_id=user.id, key_id=revoked.info.id)
    successor = rotate_api_key(db, user_id=user.id, key_id=rotated.info.id)
    db.commit()
    for gone in (revoked, rotated):
        response = await client.get("/api/v1/chatbots", headers=bearer(gone))
        assert (response.status_code, response.json()) == (401, INVALID_KEY)
    assert (await client.get("/api/v1/chatbots", headers=bearer(successor))).status_code == 200


async def test_rotating_through_the_api_retires_the_calling_key(client, key):
    response = await client.post("/api/v1/keys/rotate", headers=bearer(key))
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["key"].startswith(f"heho_{body['prefix']}_") and body["name"] == key.info.name
    assert (await client.post("/api/v1/verify-user", headers=bearer(key))).status_code == 401
    assert (
        await client.post("/api/v1/verify-user", headers=bearer(body["key"]))
    ).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "api_key={key}",
        "key={key}",
        "token={key}",
        "access_token=anything",
        "API_KEY=x",
        "q={key}",  # a HeHo key under any name
        "{key}=",
        "a=1;{key}",
        "x=%2F{key_quoted}",
    ],
)
async def test_a_key_in_the_query_string_is_refused_even_with_a_valid_header(
    client, key, access_log, db, query
):
    query = query.format(key="{key}", key_quoted=quote(key.plaintext, safe=""))
    url = "/api/v1/chatbots?" + query.format(key=key.plaintext)
    response = await client.get(url, headers=bearer(key))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "key_in_url"
    assert key.plaintext not in response.text
    assert (
        await client.get("/api/v1/health?" + query.format(key=key.plaintext))
    ).status_code == 400
    access_log.flush()
    paths = [row.path for row in db.exec(select(AccessLogEntry)).all()]
    secret = key.plaintext.rsplit("_", 1)[1]
    assert paths and all(secret not in path for path in paths)


async def test_a_deleted_users_key_stops_working(client, db, user, key):
    db.delete(user)
    db.commit()
    assert (await client.post("/api/v1/verify-user", headers=bearer(key))).status_code == 401


async def test_the_openai_compatible_path_answers_in_openais_error_shape(client):
    response = await client.post("/api/v1/chat/completions", json={})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert {"message", "param"} <= set(error)
