"""The caller's chatbots; someone else's chatbot is a 404, never a 403."""

from typing import Annotated

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
from heho_app.models import Chatbot
from heho_app.services import chatbots as service

NOT_FOUND = {404: {"description": "No chatbot of yours has this id."}}
router = APIRouter(prefix=f"{API_PREFIX}/chatbots", tags=["chatbots"])
ChatbotId = Annotated[str, Path(pattern=CHATBOT_ID_PATTERN, description="The chatbot's id.")]


def _out(session: Session, chatbot: Chatbot) -> ChatbotOut:
    return ChatbotOut.of(chatbot, service.list_grants(session, chatbot_id=chatbot.id))


def _owned(session: Session, key: CurrentKey, chatbot_id: str) -> Chatbot:
    chatbot = service.get_chatbot(session, user_id=key.user_id, chatbot_id=chatbot_id)
    if chatbot is None:
        raise ApiError(404, "No chatbot of yours has this id.")
    return chatbot


@router.get("")
def list_chatbots(key: CurrentKey) -> ChatbotList:
    with session_scope() as session:
        chatbots = service.list_chatbots(session, user_id=key.user_id)
        return ChatbotList(data=[_out(session, chatbot) for chatbot in chatbots])


@router.post("", status_code=201)
def create_chatbot(body: ChatbotCreate, key: CurrentKey) -> ChatbotOut:
    with session_scope() as session:
        chatbot = service.create_chatbot(
            session,
            user_id=key.user_id,
            values=body.model_dump(exclude={"grants"}),
            grants=[grant.to_grant() for grant in body.grants],
        )
        return _out(session, chatbot)


@router.get("/{chatbot_id}", responses=NOT_FOUND)
def get_chatbot(chatbot_id: ChatbotId, key: CurrentKey) -> ChatbotOut:
    with session_scope() as session:
        return _out(session, _owned(session, key, chatbot_id))


@router.patch("/{chatbot_id}", responses=NOT_FOUND)
def update_chatbot(chatbot_id: ChatbotId, body: ChatbotUpdate, key: CurrentKey) -> ChatbotOut:
    sent = body.model_fields_set
    with session_scope() as session:
        chatbot = _owned(session, key, chatbot_id)
        service.update_chatbot(
            session,
            chatbot,
            values=body.model_dump(include=sent - {"grants"}),
            grants=[grant.to_grant() for grant in body.grants] if "grants" in sent else None,
        )
        return _out(session, chatbot)


@router.delete("/{chatbot_id}", status_code=204, responses=NOT_FOUND)
def delete_chatbot(chatbot_id: ChatbotId, key: CurrentKey) -> Response:
    with session_scope() as session:
        service.delete_chatbot(session, _owned(session, key, chatbot_id))
    return Response(status_code=204)
