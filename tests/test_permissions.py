"""The policy fails closed: defaults, strict grant data, delete opt-in, stored rows."""

import pytest

from heho_app.db import session_scope
from heho_app.models import TableGrant
from heho_app.services.permissions import (
    GrantError,
    Policy,
    TableGrantSpec,
    load_policy,
    parse_grants,
    policy_from_rows,
    save_grants,
)


def test_defaults_read_on_writes_off():
    spec = TableGrantSpec(table="orders")
    assert (spec.read, spec.insert, spec.update, spec.delete) == (True, False, False, False)
    policy = Policy(grants={"orders": spec})
    assert policy.allows("orders", "read")
    assert not any(policy.allows("orders", op) for op in ("insert", "update", "delete"))


def test_delete_only_with_explicit_opt_in():
    with pytest.raises(GrantError, match="explicit opt-in"):
        parse_grants([{"table": "orders", "delete": True}])
    (spec,) = parse_grants([{"table": "orders", "delete": True, "confirm_delete": True}])
    assert Policy(grants={"orders": spec}).allows("orders", "delete")


@pytest.mark.parametrize(
    "grant",
    [
        {"table": "orders", "drop": True},
        {"table": "orders", "read": "yes"},
        {"table": "orders", "insert": 1},
        {"table": "public.orders"},
        {"table": "orders;drop"},
        {"table": "orders\n"},
        {"table": ""},
        {"read": True},
        "orders",
    ],
    ids=repr,
)
def test_malformed_grant_is_an_error(grant):
    with pytest.raises(GrantError):
        parse_grants([grant])


def test_duplicate_table_is_an_error():
    with pytest.raises(GrantError, match="twice"):
        parse_grants([{"table": "orders"}, {"table": "orders", "insert": True}])


@pytest.mark.parametrize(
    ("table", "operation"),
    [
        ("orders", "drop"),
        ("orders", "READ"),
        ("orders", None),
        ("customers", "read"),
        ("Orders", "read"),
        (None, "read"),
    ],
)
def test_unknown_table_or_operation_is_denied(table, operation):
    policy = Policy(grants={"orders": TableGrantSpec(table="orders", insert=True)})
    decision = policy.decide(table, operation)
    assert not decision.allowed and decision.reason


def test_save_and_load_round_trip(make_chatbot):
    chatbot = make_chatbot()
    with session_scope() as session:
        save_grants(
            session,
            chatbot.id,
            [
                {"table": "orders", "update": True},
                {"table": "notes", "read": False, "insert": True},
            ],
        )
    with session_scope() as session:
        policy = load_policy(session, chatbot.id)
    assert policy.granted_tables() == {"notes": ["insert"], "orders": ["read", "update"]}


def test_failed_save_keeps_previous_grants(make_chatbot):
    chatbot = make_chatbot([{"table": "orders"}])
    with pytest.raises(GrantError), session_scope() as session:
        save_grants(session, chatbot.id, [{"table": "orders", "delete": True}])
    with session_scope() as session:
        assert load_policy(session, chatbot.id).granted_tables() == {"orders": ["read"]}


def test_malformed_stored_row_grants_nothing():
    rows = [
        TableGrant(chatbot_id="c", table_name="public.orders", can_read=True),
        TableGrant(chatbot_id="c", table_name="orders", can_read=True, can_update=True),
    ]
    policy = policy_from_rows(rows)
    assert not policy.allows("public.orders", "read")
    assert policy.allows("orders", "update")
