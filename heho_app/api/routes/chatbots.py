"""The caller's chatbots; someone else's chatbot is a 404, never a 403.

The same service as the settings pages (`chatbot_config`): the same validation,
the same delete opt-in on grants, the same encrypted connection key.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlmodel import Session

from heho_app.api import API_PREFIX
from heho_app.api.deps import CurrentKey
from heho_app.api.errors import ApiError
from heho_app.api.schemas import (
    CHATBOT_ID_PATTERN,
    ChatbotCreate,
    ChatbotList,
    ChatbotOut,
    ChatbotUpdate,
)
from heho_app.db import session_scope
from heho_app.services import chatbot_config as service
from heho_app.services.chatbot_config import ChatbotError, ChatbotNotFound

NOT_FOUND_MESSAGE = "No chatbot of yours has this id."
NOT_FOUND = {404: {"description": NOT_FOUND_MESSAGE}}
CONNECTION_FIELDS = {"supabase_url", "supabase_key"}
router = APIRouter(prefix=f"{API_PREFIX}/chatbots", tags=["chatbots"])
ChatbotId = Annotated[str, Path(pattern=CHATBOT_ID_PATTERN, description="The chatbot's id.")]


def _out(session: Session, user_id: int, chatbot_id: str) -> ChatbotOut:
    return ChatbotOut.of(
        *service.get_chatbot_with_grants(session, user_id=user_id, chatbot_id=chatbot_id)
    )


def _apply(session: Session, user_id: int, chatbot_id: str, body: Any, sent: set[str]) -> None:
    """Write the connection and grants of a create or update body."""
    if "supabase_url" in sent and body.supabase_url is None:
        service.remove_connection(session, user_id=user_id, chatbot_id=chatbot_id)
    elif sent & CONNECTION_FIELDS:
        current = service.get_chatbot(session, user_id=user_id, chatbot_id=chatbot_id)
        service.set_connection(
            session,
            user_id=user_id,
            chatbot_id=chatbot_id,
            url=body.supabase_url or current.supabase_url or "",
            key=body.supabase_key,
        )
    if "grants" in sent and body.grants is not None:
        service.save_grants(
            session,
            user_id=user_id,
            chatbot_id=chatbot_id,
            grants=[grant.model_dump() for grant in body.grants],
        )


def _invalid(error: ChatbotError) -> ApiError:
    return ApiError(422, error.message)


@router.get("")
def list_chatbots(key: CurrentKey) -> ChatbotList:
    with session_scope() as session:
        summaries = service.list_chatbots(session, user_id=key.user_id)
        return ChatbotList(data=[_out(session, key.user_id, s.id) for s in summaries])


@router.post("", status_code=201)
def create_chatbot(body: ChatbotCreate, key: CurrentKey) -> ChatbotOut:
    sent = body.model_fields_set | {"grants"}
    try:
        with session_scope() as session:
            created = service.create_chatbot(
                session,
                user_id=key.user_id,
                data=body.model_dump(exclude=CONNECTION_FIELDS | {"grants"}),
            )
            _apply(session, key.user_id, created.id, body, sent)
            return _out(session, key.user_id, created.id)
    except ChatbotError as error:
        raise _invalid(error) from None


@router.get("/{chatbot_id}", responses=NOT_FOUND)
def get_chatbot(chatbot_id: ChatbotId, key: CurrentKey) -> ChatbotOut:
    try:
        with session_scope() as session:
            return _out(session, key.user_id, chatbot_id)
    except ChatbotNotFound:
        raise ApiError(404, NOT_FOUND_MESSAGE) from None


@router.patch("/{chatbot_id}", responses=NOT_FOUND)
def update_chatbot(chatbot_id: ChatbotId, body: ChatbotUpdate, key: CurrentKey) -> ChatbotOut:
    sent = set(body.model_fields_set)
    try:
        with session_scope() as session:
            settings = body.model_dump(include=sent - CONNECTION_FIELDS - {"grants"})
            if settings:
                service.update_chatbot(
                    session, user_id=key.user_id, chatbot_id=chatbot_id, data=settings
                )
            else:
                service.get_chatbot(session, user_id=key.user_id, chatbot_id=chatbot_id)
            _apply(session, key.user_id, chatbot_id, body, sent)
            return _out(session, key.user_id, chatbot_id)
    except ChatbotNotFound:
        raise ApiError(404, NOT_FOUND_MESSAGE) from None
    except ChatbotError as error:
        raise _invalid(error) from None


@router.delete("/{chatbot_id}", status_code=204, responses=NOT_FOUND)
def delete_chatbot(chatbot_id: ChatbotId, key: CurrentKey) -> Response:
    try:
        with session_scope() as session:
            service.delete_chatbot(session, user_id=key.user_id, chatbot_id=chatbot_id)
    except ChatbotNotFound:
        raise ApiError(404, NOT_FOUND_MESSAGE) from None
    return Response(status_code=204)
