"""What the chat endpoints will rely on: a streaming route behind the guard, and
OpenAI's error shape on /api/v1/chat/completions, with nothing but `CurrentKey`."""

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from sqlmodel import select

from heho_app.api.app import PUBLIC_PATHS
from heho_app.api.deps import CurrentKey, CurrentUser
from heho_app.api.errors import install_error_handlers
from heho_app.api.guard import ApiGuard
from heho_app.api.ratelimit import RateLimiter
from heho_app.api.schemas import ChatCompletionRequest
from heho_app.models import AccessLogEntry
from tests.api.conftest import bearer

router = APIRouter(prefix="/api/v1")


@router.post("/chat")
async def chat(key: CurrentKey, user: CurrentUser) -> StreamingResponse:
    async def events():
        for word in ("Hello", f" {user.email}", f" ({key.prefix})"):
            yield f"data: {word}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post("/chat/completions")
async def completions(body: ChatCompletionRequest, key: CurrentKey) -> dict:
    return {"model": body.model}


def app_with_chat(access_log) -> FastAPI:
    api = FastAPI()
    install_error_handlers(api)
    api.include_router(router)
    api.add_middleware(
        ApiGuard,
        limiter=RateLimiter(),
        access_log=access_log,
        max_body_bytes=1_048_576,
        public_paths=PUBLIC_PATHS,
    )
    return api


async def test_a_streaming_route_gets_auth_limits_and_logging(db, access_log, user, key):
    transport = httpx.ASGITransport(app=app_with_chat(access_log))
    async with httpx.AsyncClient(transport=transport, base_url="http://heho.test") as client:
        async with client.stream("POST", "/api/v1/chat", headers=bearer(key)) as response:
            assert response.status_code == 200
            assert response.headers["x-ratelimit-remaining"] == "59"
            body = "".join([chunk async for chunk in response.aiter_text()])
        assert body == f"data: Hello\n\ndata:  {user.email}\n\ndata:  ({key.info.prefix})\n\n"
        assert (await client.post("/api/v1/chat")).status_code == 401
    access_log.flush()
    rows = db.exec(select(AccessLogEntry)).all()
    assert [(r.path, r.status, r.key_prefix) for r in rows] == [
        ("/api/v1/chat", 200, key.info.prefix),
        ("/api/v1/chat", 401, None),
    ]


async def test_chat_completions_errors_take_openais_shape(access_log, key):
    transport = httpx.ASGITransport(app=app_with_chat(access_log))
    async with httpx.AsyncClient(transport=transport, base_url="http://heho.test") as client:
        url = "/api/v1/chat/completions"
        response = await client.post(url, headers=bearer(key), json={"model": "b", "messages": []})
        assert response.status_code == 422
        assert response.json()["error"] == {
            "message": response.json()["error"]["message"],
            "type": "invalid_request_error",
            "param": "body.messages",
            "code": "validation_error",
        }
        body = {"model": "b", "messages": [{"role": "user", "content": "hi"}]}
        assert (await client.post(url, headers=bearer(key), json=body)).json() == {"model": "b"}
