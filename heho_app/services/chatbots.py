"""Chatbot configuration of one user: create, read, change, delete, and table grants.

Every function takes the owner's user id: another user's chatbot is simply not
found. Values are validated by the caller (the REST API's schemas, the pages'
forms); `Tone` and `Theme` are the allowed choices both use (`typing.get_args`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete
from sqlmodel import Session, col, select

from heho_app.models import Chatbot, TableGrant, utcnow

Tone = Literal["friendly", "professional", "strict"]
Theme = Literal["twilight", "sunrise", "ocean", "forest", "grape", "rose", "sky", "candy"]
ROW_CAP_MAX = 1000

# What a user may set on a chatbot; id, owner and timestamps are HeHo's.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "goal",
        "description",
        "model",
        "tone",
        "theme",
        "temperature",
        "memory_enabled",
        "approve_writes",
        "row_cap",
        "log_filter_values",
        "supabase_url",
    }
)


@dataclass(frozen=True)
class Grant:
    """One table's permissions: read is on by default, every write is off."""

    table: str
    read: bool = True
    insert: bool = False
    update: bool = False
    delete: bool = False


def _editable(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    return dict(values)


def list_chatbots(session: Session, *, user_id: int) -> list[Chatbot]:
    return list(
        session.exec(
            select(Chatbot)
            .where(Chatbot.user_id == user_id)
            .order_by(col(Chatbot.created_at), col(Chatbot.id))
        ).all()
    )


def get_chatbot(session: Session, *, user_id: int, chatbot_id: str) -> Chatbot | None:
    chatbot = session.get(Chatbot, chatbot_id)
    return chatbot if chatbot is not None and chatbot.user_id == user_id else None


def create_chatbot(
    session: Session,
    *,
    user_id: int,
    values: Mapping[str, Any],
    grants: Iterable[Grant] = (),
) -> Chatbot:
    """Add a chatbot and its grants; the caller commits."""
    chatbot = Chatbot(user_id=user_id, **_editable(values))
    session.add(chatbot)
    session.flush()
    replace_grants(session, chatbot_id=chatbot.id, grants=grants)
    return chatbot


def update_chatbot(
    session: Session,
    chatbot: Chatbot,
    *,
    values: Mapping[str, Any],
    grants: Iterable[Grant] | None = None,
) -> Chatbot:
    """Change the given fields, and replace the grants when `grants` is given."""
    for name, value in _editable(values).items():
        setattr(chatbot, name, value)
    chatbot.updated_at = utcnow()
    session.add(chatbot)
    if grants is not None:
        replace_grants(session, chatbot_id=chatbot.id, grants=grants)
    session.flush()
    return chatbot


def delete_chatbot(session: Session, chatbot: Chatbot) -> None:
    """Remove the chatbot; its grants and stored keys go with it (ON DELETE CASCADE)."""
    session.execute(delete(TableGrant).where(col(TableGrant.chatbot_id) == chatbot.id))
    session.delete(chatbot)
    session.flush()


def list_grants(session: Session, *, chatbot_id: str) -> list[Grant]:
    rows = session.exec(
        select(TableGrant)
        .where(TableGrant.chatbot_id == chatbot_id)
        .order_by(col(TableGrant.table_name))
    ).all()
    return [
        Grant(
            table=row.table_name,
            read=row.can_read,
            insert=row.can_insert,
            update=row.can_update,
            delete=row.can_delete,
        )
        for row in rows
    ]


def replace_grants(session: Session, *, chatbot_id: str, grants: Iterable[Grant]) -> None:
    """The chatbot's grants become exactly `grants` (one per table)."""
    grants = list(grants)
    tables = [grant.table for grant in grants]
    if len(set(tables)) != len(tables):
        raise ValueError("a table is granted more than once")
    session.execute(delete(TableGrant).where(col(TableGrant.chatbot_id) == chatbot_id))
    session.add_all(
        TableGrant(
            chatbot_id=chatbot_id,
            table_name=grant.table,
            can_read=grant.read,
            can_insert=grant.insert,
            can_update=grant.update,
            can_delete=grant.delete,
        )
        for grant in grants
    )
    session.flush()
