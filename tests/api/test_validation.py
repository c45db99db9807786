import logging

from tests.api.conftest import bearer

LIMIT = 1_048_576


async def test_a_body_over_the_limit_is_refused_by_its_declared_length(client, key):
    response = await client.post(
        "/api/v1/chatbots", headers=bearer(key), content=b"{" + b" " * LIMIT + b"}"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_a_streamed_body_over_the_limit_is_refused_without_a_length(client, key):
    async def chunks():
        for _ in range(20):
            yield b" " * 65_536

    response = await client.post(
        "/api/v1/chatbots",
        headers={**bearer(key), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 413


async def test_a_lying_content_length_does_not_get_past_the_limit(api, key):
    """The stream is counted even when Content-Length claims a small body."""
    sent: list[dict] = []
    body = b" " * (LIMIT + 10)
    messages = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.request", "body": body[100:], "more_body": False},
    ]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/chatbots",
        "raw_path": b"/api/v1/chatbots",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"heho.test"),
            (b"authorization", f"Bearer {key.plaintext}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"2"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("heho.test", 80),
    }
    await api(scope, receive, send)
    assert sent[0]["status"] == 413


async def test_a_body_that_is_not_json_gets_415(client, key):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = bearer(key) | ({"Content-Type": content_type} if content_type else {})
        response = await client.post("/api/v1/chatbots", headers=headers, content=b'{"name":"x"}')
        assert response.status_code == 415, content_type
        assert response.json()["error"]["code"] == "unsupported_media_type"
    response = await client.post(
        "/api/v1/chatbots",
        headers=bearer(key) | {"Content-Type": "application/json; charset=utf-8"},
        content=b'{"name":"x"}',
    )
    assert response.status_code == 201


async def test_invalid_bodies_get_422_with_every_problem_listed(client, key):
    response = await client.post(
        "/api/v1/chatbots",
        headers=bearer(key),
        json={"name": "", "tone": "rude", "temperature": 3, "row_cap": 0, "surprise": 1},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    where = {tuple(detail["loc"]) for detail in error["details"]}
    assert where == {
        ("body", "name"),
        ("body", "tone"),
        ("body", "temperature"),
        ("body", "row_cap"),
        ("body", "surprise"),
    }
    assert all({"loc", "message", "type"} == set(detail) for detail in error["details"])


async def test_malformed_json_gets_422_and_the_input_is_not_echoed(client, key):
    secret = "sbp_secret_value_should_not_echo"
    response = await client.post(
        "/api/v1/chatbots",
        headers=bearer(key) | {"Content-Type": "application/json"},
        content=f'{{"name": "{secret}", '.encode(),
    )
    assert response.status_code == 422
    assert secret not in response.text
    response = await client.post(
        "/api/v1/chatbots", headers=bearer(key), json={"name": "x", "model": secret + " x"}
    )
    assert response.status_code == 422 and secret not in response.text


async def test_an_unexpected_error_is_a_generic_500_and_is_logged(client, key, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("connection to postgres://admin:hunter2@db failed")

    monkeypatch.setattr("heho_app.services.chatbot_config.list_chatbots", broken)
    with caplog.at_level(logging.ERROR, logger="heho_app.api.guard"):
        response = await client.get("/api/v1/chatbots", headers=bearer(key))
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Something went wrong on our side; the error was logged.",
        }
    }
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "x-ratelimit-limit" in response.headers
    assert any(record.exc_info for record in caplog.records)


async def test_unknown_paths_and_methods_answer_in_the_error_shape(client, key):
    response = await client.get("/api/v1/nothing/here", headers=bearer(key))
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    response = await client.put("/api/v1/chatbots", headers=bearer(key))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert (await client.get("/api/v1/nothing")).status_code == 401  # private by default
