from datetime import datetime, timedelta
from urllib.parse import quote

from heho_app.models import AuditEvent, Chatbot
from tests.api.conftest import bearer

T0 = datetime.fromisoformat("2026-06-01T12:00:00+00:00")


def seed(db, user, other):
    bots = [Chatbot(user_id=user.id, name="a"), Chatbot(user_id=user.id, name="b")]
    db.add_all(bots)
    db.commit()
    rows = [
        # (user, chatbot, table, outcome, minutes after T0)
        (user, bots[0], "orders", "ok", 0),
        (user, bots[0], "orders", "denied", 10),
        (user, bots[1], "customers", "ok", 20),
        (user, bots[1], "orders", "failed", 30),
        (user, bots[0], None, "pending", 40),
        (other, None, "orders", "ok", 50),
    ]
    for seq, (owner, bot, table, outcome, minutes) in enumerate(rows, start=1):
        db.add(
            AuditEvent(
                user_id=owner.id,
                seq=seq,
                chatbot_id=bot.id if bot else None,
                tool="select_rows",
                table_name=table,
                operation="read",
                filters='[{"column": "id", "op": "eq", "value": "[redacted]"}]',
                outcome=outcome,
                created_at=T0 + timedelta(minutes=minutes),
                prev_hash="0" * 64,
                row_hash=f"{seq:064d}",
            )
        )
    db.commit()
    return bots


async def audit(client, key, query=""):
    response = await client.get(f"/api/v1/audit{query}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_caller_sees_only_their_events_newest_first(client, db, user, key, make_user):
    seed(db, user, make_user())
    page = await audit(client, key)
    assert [event["seq"] for event in page["data"]] == [5, 4, 3, 2, 1]
    assert page["has_more"] is False
    event = page["data"][-1]
    assert event["table"] == "orders" and event["filters"][0]["value"] == "[redacted]"
    assert "user_id" not in event


async def test_filters(client, db, user, key, make_user):
    bots = seed(db, user, make_user())

    async def seqs(query):
        return [event["seq"] for event in (await audit(client, key, query))["data"]]

    assert await seqs(f"?chatbot_id={bots[1].id}") == [4, 3]
    assert await seqs("?table=orders") == [4, 2, 1]
    assert await seqs("?outcome=ok") == [3, 1]
    assert await seqs(f"?table=orders&chatbot_id={bots[0].id}&outcome=denied") == [2]
    since = quote((T0 + timedelta(minutes=10)).isoformat())
    until = quote((T0 + timedelta(minutes=30)).isoformat())
    assert await seqs(f"?since={since}&until={until}") == [3, 2]
    assert await seqs(f"?since={quote('2026-06-01T14:15:00+02:00')}") == [5, 4, 3]


async def test_paging(client, db, user, key, make_user):
    seed(db, user, make_user())
    first = await audit(client, key, "?limit=2")
    second = await audit(client, key, "?limit=2&offset=2")
    last = await audit(client, key, "?limit=2&offset=4")
    assert [e["seq"] for e in first["data"] + second["data"] + last["data"]] == [5, 4, 3, 2, 1]
    assert (first["has_more"], second["has_more"], last["has_more"]) == (True, True, False)


async def test_invalid_filters_get_422(client, key):
    for query in (
        "?limit=0",
        "?limit=501",
        "?offset=-1",
        "?outcome=maybe",
        "?since=yesterday",
        "?since=2026-06-01T12:00:00",  # no time zone: ambiguous
        "?since=9999-12-31T23:59:59-23:59",
        "?until=0.5",  # a Unix timestamp is not what the spec promises
        "?tabel=orders",
        "?table=%00",
        "?chatbot_id=a%00b",
    ):
        response = await client.get(f"/api/v1/audit{query}", headers=bearer(key))
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "validation_error"
