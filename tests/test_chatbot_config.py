"""The chatbot configuration service: validation, ownership, duplicate, connection, keys."""

import pytest
from sqlmodel import select

from heho_app.db import session_scope
from heho_app.models import Chatbot, Credential, KeyAccessEvent, TableGrant, User
from heho_app.services import chatbot_config, keys
from heho_app.services.chatbot_config import ChatbotError, ChatbotNotFound
from heho_app.services.credentials import OPENROUTER, SUPABASE, find_credential
from heho_app.services.supabase_link import LinkProblem
from tests.fixtures.chat import OPENROUTER_TEST_KEY


@pytest.fixture
def other_user(heho_db) -> User:
    with session_scope() as session:
        user = User(email="other@example.com" + str(id(session)), password_hash="x")
        session.add(user)
        session.flush()
        session.refresh(user)
    return user


def create(user_id: int, **data) -> chatbot_config.ChatbotDetail:
    with session_scope() as session:
        return chatbot_config.create_chatbot(
            session, user_id=user_id, data={"name": "Shop", **data}
        )


def test_create_with_defaults_and_list(heho_user):
    detail = create(heho_user.id)
    assert detail.settings.model == chatbot_config.DEFAULT_MODEL
    assert detail.settings.tone == "friendly"
    assert (detail.supabase_url, detail.key_last4, detail.connected) == (None, None, False)
    with session_scope() as session:
        rows = chatbot_config.list_chatbots(session, user_id=heho_user.id)
    assert [(r.name, r.project_host, r.connected) for r in rows] == [("Shop", None, False)]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"goal": "x" * 2001}, "goal"),
        ({"description": "x" * 20001}, "description"),
        ({"model": ""}, "model"),
        ({"model": "two words"}, "model"),
        ({"tone": "rude"}, "tone"),
        ({"theme": "neon"}, "theme"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": "warm"}, "temperature"),
        ({"temperature": "nan"}, "temperature"),
        ({"row_cap": 0}, "row_cap"),
        ({"row_cap": 1001}, "row_cap"),
        ({"row_cap": "1.5"}, "row_cap"),
        ({"memory_enabled": "maybe"}, "memory_enabled"),
        ({"user_id": 7}, "user_id"),
    ],
)
def test_bad_settings_name_the_field_and_change_nothing(heho_user, data, field):
    detail = create(heho_user.id, goal="Sell things")
    with pytest.raises(ChatbotError) as raised, session_scope() as session:
        chatbot_config.update_chatbot(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            data={"goal": "changed", **data},
        )
    assert field in raised.value.fields
    assert raised.value.fields[field]
    with session_scope() as session:
        assert (
            chatbot_config.get_chatbot(session, user_id=heho_user.id, chatbot_id=detail.id)
            == detail
        )


def test_several_bad_fields_are_all_named(heho_user):
    with pytest.raises(ChatbotError) as raised, session_scope() as session:
        chatbot_config.create_chatbot(
            session, user_id=heho_user.id, data={"name": "", "row_cap": 0, "tone": "x"}
        )
    assert set(raised.value.fields) == {"name", "row_cap", "tone"}
    with session_scope() as session:
        assert chatbot_config.list_chatbots(session, user_id=heho_user.id) == []


def test_update_accepts_form_strings(heho_user):
    detail = create(heho_user.id)
    with session_scope() as session:
        updated = chatbot_config.update_chatbot(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            data={
                "name": "  Orders bot ",
                "temperature": "1.2",
                "row_cap": "25",
                "approve_writes": True,
                "theme": "ocean",
                "tone": "strict",
            },
        )
    assert updated.settings.name == "Orders bot"
    assert (updated.settings.temperature, updated.settings.row_cap) == (1.2, 25)
    assert (updated.settings.theme, updated.settings.tone) == ("ocean", "strict")
    assert updated.settings.approve_writes is True


def test_other_users_chatbot_is_not_found(heho_user, other_user):
    detail = create(heho_user.id)
    for call in (
        lambda s: chatbot_config.get_chatbot(s, user_id=other_user.id, chatbot_id=detail.id),
        lambda s: chatbot_config.update_chatbot(
            s, user_id=other_user.id, chatbot_id=detail.id, data={"name": "mine"}
        ),
        lambda s: chatbot_config.duplicate_chatbot(s, user_id=other_user.id, chatbot_id=detail.id),
        lambda s: chatbot_config.delete_chatbot(s, user_id=other_user.id, chatbot_id=detail.id),
        lambda s: chatbot_config.save_grants(
            s, user_id=other_user.id, chatbot_id=detail.id, grants=[]
        ),
        lambda s: chatbot_config.remove_connection(s, user_id=other_user.id, chatbot_id=detail.id),
        lambda s: chatbot_config.get_chatbot(s, user_id=heho_user.id, chatbot_id="nope"),
    ):
        with pytest.raises(ChatbotNotFound), session_scope() as session:
            call(session)
    with session_scope() as session:
        assert chatbot_config.get_chatbot(session, user_id=heho_user.id, chatbot_id=detail.id).id


def test_duplicate_copies_settings_and_grants_not_the_connection(heho_user, supabase_stack):
    detail = create(heho_user.id, goal="Help", row_cap=7)
    with session_scope() as session:
        chatbot_config.set_connection(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            url=supabase_stack.url,
            key=supabase_stack.service_key,
        )
        chatbot_config.save_grants(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            grants=[
                {"table": "orders", "read": True, "update": True},
                {"table": "notes", "read": True, "delete": True, "confirm_delete": True},
            ],
        )
    with session_scope() as session:
        copy = chatbot_config.duplicate_chatbot(session, user_id=heho_user.id, chatbot_id=detail.id)
        grants = chatbot_config.get_grants(session, user_id=heho_user.id, chatbot_id=copy.id)
    assert copy.id != detail.id
    assert copy.settings.name == "Shop (copy)"
    assert (copy.settings.goal, copy.settings.row_cap) == ("Help", 7)
    assert (copy.supabase_url, copy.key_last4) == (None, None)
    assert [(g.table, g.operations()) for g in grants] == [
        ("notes", ["read", "delete"]),
        ("orders", ["read", "update"]),
    ]


def test_delete_removes_grants_and_key(heho_user, supabase_stack):
    detail = create(heho_user.id)
    with session_scope() as session:
        chatbot_config.set_connection(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            url=supabase_stack.url,
            key=supabase_stack.service_key,
        )
        chatbot_config.save_grants(
            session, user_id=heho_user.id, chatbot_id=detail.id, grants=[{"table": "orders"}]
        )
    with session_scope() as session:
        chatbot_config.delete_chatbot(session, user_id=heho_user.id, chatbot_id=detail.id)
    with session_scope() as session:
        assert session.get(Chatbot, detail.id) is None
        assert not session.exec(select(TableGrant).where(TableGrant.chatbot_id == detail.id)).all()
        assert not session.exec(select(Credential).where(Credential.chatbot_id == detail.id)).all()


def test_delete_grant_needs_the_opt_in(heho_user):
    detail = create(heho_user.id)
    with pytest.raises(ChatbotError) as raised, session_scope() as session:
        chatbot_config.save_grants(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            grants=[{"table": "orders", "delete": True}],
        )
    assert "confirm_delete" in raised.value.fields["grants"]


def test_connection_is_validated_and_stored_encrypted(heho_user, supabase_stack):
    detail = create(heho_user.id)
    with pytest.raises(ChatbotError) as raised, session_scope() as session:
        chatbot_config.set_connection(
            session, user_id=heho_user.id, chatbot_id=detail.id, url="ftp://x", key=""
        )
    assert set(raised.value.fields) == {"supabase_url", "supabase_key"}
    key = supabase_stack.service_key
    with session_scope() as session:
        saved = chatbot_config.set_connection(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            url=supabase_stack.url + "/",
            key=key,
        )
    assert saved.supabase_url == supabase_stack.url
    assert saved.key_last4 == key[-4:]
    with session_scope() as session:
        stored = find_credential(session, user_id=heho_user.id, kind=SUPABASE, chatbot_id=detail.id)
        assert key not in stored.ciphertext
        # A new URL alone keeps the key.
        kept = chatbot_config.set_connection(
            session, user_id=heho_user.id, chatbot_id=detail.id, url=supabase_stack.url, key=None
        )
        assert kept.key_last4 == key[-4:]
        removed = chatbot_config.remove_connection(
            session, user_id=heho_user.id, chatbot_id=detail.id
        )
    assert (removed.supabase_url, removed.key_last4) == (None, None)


async def test_test_connection_with_stored_key_is_logged(heho_user, supabase_stack):
    detail = create(heho_user.id)
    with session_scope() as session:
        chatbot_config.set_connection(
            session,
            user_id=heho_user.id,
            chatbot_id=detail.id,
            url=supabase_stack.url,
            key=supabase_stack.service_key,
        )
    check = await chatbot_config.test_connection(user_id=heho_user.id, chatbot_id=detail.id)
    assert check.ok, check.message
    assert chatbot_config.grantable_tables(check) == ["customers", "notes", "orders", "products"]
    with session_scope() as session:
        events = session.exec(
            select(KeyAccessEvent).where(KeyAccessEvent.user_id == heho_user.id)
        ).all()
        access = keys.list_key_access(session, user_id=heho_user.id)
    assert [(e.credential_kind, e.chatbot_id, e.purpose) for e in events] == [
        (SUPABASE, detail.id, chatbot_config.TEST_PURPOSE)
    ]
    assert [(a.kind, a.chatbot_name) for a in access] == [(SUPABASE, "Shop")]


async def test_typed_key_is_tested_before_saving(heho_user, supabase_stack):
    detail = create(heho_user.id)
    refused = await chatbot_config.connect_and_save(
        user_id=heho_user.id, chatbot_id=detail.id, url=supabase_stack.url, key="not.a.jwt"
    )
    assert (refused.saved, refused.check.problem) == (False, LinkProblem.key_refused)
    assert chatbot_config.link_problem_field(refused.check) == "supabase_key"
    with session_scope() as session:
        assert (
            chatbot_config.get_chatbot(
                session, user_id=heho_user.id, chatbot_id=detail.id
            ).key_last4
            is None
        )
    result = await chatbot_config.connect_and_save(
        user_id=heho_user.id,
        chatbot_id=detail.id,
        url=supabase_stack.url,
        key=supabase_stack.service_key,
    )
    assert result.saved and result.detail is not None
    assert result.detail.key_last4 == supabase_stack.service_key[-4:]
    with session_scope() as session:
        # Testing typed keys decrypted nothing.
        assert not session.exec(
            select(KeyAccessEvent).where(KeyAccessEvent.user_id == heho_user.id)
        ).all()


async def test_test_connection_without_key_names_the_field(heho_user):
    detail = create(heho_user.id)
    with pytest.raises(ChatbotError) as raised:
        await chatbot_config.test_connection(
            user_id=heho_user.id, chatbot_id=detail.id, url="https://x.supabase.co"
        )
    assert set(raised.value.fields) == {"supabase_key"}


async def test_openrouter_key_is_checked_then_stored(heho_user, fake_openrouter):
    fake_openrouter.accepted_keys = {OPENROUTER_TEST_KEY}
    with pytest.raises(keys.OpenRouterKeyError) as refused:
        await keys.set_openrouter_key(user_id=heho_user.id, key="sk-or-v1-wrong-key-000")
    assert "did not accept" in refused.value.message
    assert "wrong-key" not in refused.value.message
    with pytest.raises(keys.OpenRouterKeyError):
        await keys.set_openrouter_key(user_id=heho_user.id, key="two words")
    with session_scope() as session:
        assert keys.openrouter_key_status(session, user_id=heho_user.id) is None
    stored = await keys.set_openrouter_key(user_id=heho_user.id, key=OPENROUTER_TEST_KEY)
    assert stored.last4 == OPENROUTER_TEST_KEY[-4:]
    with session_scope() as session:
        assert find_credential(session, user_id=heho_user.id, kind=OPENROUTER) is not None
        assert keys.remove_openrouter_key(session, user_id=heho_user.id) is True
    with session_scope() as session:
        assert keys.openrouter_key_status(session, user_id=heho_user.id) is None
