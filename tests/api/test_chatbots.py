import pytest
from sqlmodel import select

from heho_app.models import Chatbot, Credential, TableGrant
from tests.api.conftest import bearer

URL = "/api/v1/chatbots"


async def test_create_read_update_delete(client, key):
    created = await client.post(
        URL,
        headers=bearer(key),
        json={
            "name": "Orders helper",
            "goal": "answer questions about orders",
            "model": "anthropic/claude-3.5-sonnet:beta",
            "tone": "professional",
            "theme": "ocean",
            "temperature": 0,
            "row_cap": 1000,
            "supabase_url": "https://abc.supabase.co",
            "supabase_key": "service-key-0123456789-wxyz",
            "grants": [{"table": "orders"}, {"table": "customers", "update": True}],
        },
    )
    assert created.status_code == 201
    bot = created.json()
    assert bot["tone"] == "professional" and bot["supabase_url"] == "https://abc.supabase.co"
    assert (bot["connected"], bot["supabase_key_last4"]) == (True, "wxyz")
    assert "service-key-0123456789" not in created.text
    assert bot["grants"] == [
        {"table": "customers", "read": True, "insert": False, "update": True, "delete": False},
        {"table": "orders", "read": True, "insert": False, "update": False, "delete": False},
    ]
    assert "user_id" not in bot

    fetched = await client.get(f"{URL}/{bot['id']}", headers=bearer(key))
    assert fetched.json() == bot
    listed = await client.get(URL, headers=bearer(key))
    assert [b["id"] for b in listed.json()["data"]] == [bot["id"]]

    patched = await client.patch(
        f"{URL}/{bot['id']}",
        headers=bearer(key),
        json={
            "name": "Renamed",
            "supabase_url": None,
            "grants": [{"table": "t", "delete": True, "confirm_delete": True}],
        },
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["name"], body["supabase_url"], body["tone"]) == ("Renamed", None, "professional")
    assert body["grants"] == [
        {"table": "t", "read": True, "insert": False, "update": False, "delete": True}
    ]
    assert body["updated_at"] >= bot["updated_at"]

    assert body["connected"] is False and body["supabase_key_last4"] is None

    untouched = await client.patch(f"{URL}/{bot['id']}", headers=bearer(key), json={})
    assert untouched.json()["grants"] == body["grants"]

    deleted = await client.delete(f"{URL}/{bot['id']}", headers=bearer(key))
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await client.get(f"{URL}/{bot['id']}", headers=bearer(key))).status_code == 404


async def test_defaults_of_a_new_chatbot(client, key):
    bot = (await client.post(URL, headers=bearer(key), json={"name": "x"})).json()
    assert {k: bot[k] for k in ("tone", "theme", "temperature", "row_cap", "memory_enabled")} == {
        "tone": "friendly",
        "theme": "twilight",
        "temperature": 0.7,
        "row_cap": 100,
        "memory_enabled": True,
    }
    assert bot["grants"] == [] and bot["approve_writes"] is False


async def test_users_see_and_change_only_their_own_chatbots(client, make_user, make_key, db):
    alice, bob = make_user(), make_user()
    alice_key, bob_key = make_key(alice), make_key(bob)
    mine = (await client.post(URL, headers=bearer(alice_key), json={"name": "alice's"})).json()
    await client.post(URL, headers=bearer(bob_key), json={"name": "bob's"})

    assert [b["name"] for b in (await client.get(URL, headers=bearer(bob_key))).json()["data"]] == [
        "bob's"
    ]
    for method, body in (("GET", None), ("PATCH", {"name": "stolen"}), ("DELETE", None)):
        response = await client.request(
            method, f"{URL}/{mine['id']}", headers=bearer(bob_key), json=body
        )
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"
    assert db.get(Chatbot, mine["id"]).name == "alice's"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 121),
        ("name", None),
        ("name", "nul\x00byte"),
        ("tone", "rude"),
        ("theme", "neon"),
        ("temperature", -0.1),
        ("temperature", 2.01),
        ("row_cap", 0),
        ("row_cap", 1001),
        ("model", ""),
        ("model", "has space"),
        ("model", "nul\x00"),
        ("supabase_url", "https://x/\x00"),
        ("supabase_url", "ftp://x"),
        ("grants", [{"table": "a"}, {"table": "a"}]),
        ("grants", [{"table": "1bad"}]),
        ("grants", [{"table": "a", "drop": True}]),
        ("user_id", 1),
        ("id", "chosen"),
    ],
)
async def test_invalid_values_are_refused_on_create_and_update(client, key, field, value):
    create = {"name": "ok", field: value}
    response = await client.post(URL, headers=bearer(key), json=create)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["loc"][:2] == ["body", field]
    bot = (await client.post(URL, headers=bearer(key), json={"name": "ok"})).json()
    response = await client.patch(f"{URL}/{bot['id']}", headers=bearer(key), json={field: value})
    assert response.status_code == 422, response.text


async def test_an_id_that_cannot_exist_is_a_422_not_a_database_error(client, key):
    response = await client.get(f"{URL}/a%00b", headers=bearer(key))
    assert response.status_code == 422


async def test_boundary_values_are_accepted(client, key):
    body = {"name": "x" * 120, "temperature": 2, "row_cap": 1, "tone": "strict", "theme": "candy"}
    assert (await client.post(URL, headers=bearer(key), json=body)).status_code == 201


async def test_deleting_a_chatbot_removes_its_grants_and_keys(client, key, user, db):
    bot = (
        await client.post(URL, headers=bearer(key), json={"name": "x", "grants": [{"table": "t"}]})
    ).json()
    db.add(
        Credential(
            user_id=user.id, chatbot_id=bot["id"], kind="supabase", ciphertext="c", key_id="k"
        )
    )
    db.commit()
    assert (await client.delete(f"{URL}/{bot['id']}", headers=bearer(key))).status_code == 204
    db.expire_all()
    assert db.exec(select(TableGrant)).all() == []
    assert db.exec(select(Credential)).all() == []


async def test_no_secret_leaves_through_a_chatbot(client, key, user, db):
    bot = (await client.post(URL, headers=bearer(key), json={"name": "x"})).json()
    db.add(
        Credential(
            user_id=user.id,
            chatbot_id=bot["id"],
            kind="supabase",
            ciphertext="CIPHERTEXT-MARKER",
            key_id="k",
            last4="abcd",
        )
    )
    db.commit()
    text = (await client.get(f"{URL}/{bot['id']}", headers=bearer(key))).text
    assert "CIPHERTEXT-MARKER" not in text and "ciphertext" not in text


async def test_delete_grant_needs_the_explicit_opt_in(client, key):
    created = await client.post(URL, headers=bearer(key), json={"name": "Careful"})
    bot_id = created.json()["id"]

    refused = await client.patch(
        f"{URL}/{bot_id}",
        headers=bearer(key),
        json={"name": "Changed", "grants": [{"table": "orders", "delete": True}]},
    )

    assert refused.status_code == 422
    assert "confirm_delete" in refused.json()["error"]["message"]
    after = (await client.get(f"{URL}/{bot_id}", headers=bearer(key))).json()
    assert (after["name"], after["grants"]) == ("Careful", [])


async def test_a_url_without_any_key_is_refused_and_nothing_is_created(client, key):
    refused = await client.post(
        URL, headers=bearer(key), json={"name": "Half", "supabase_url": "https://abc.supabase.co"}
    )

    assert refused.status_code == 422
    assert "key" in refused.json()["error"]["message"]
    assert (await client.get(URL, headers=bearer(key))).json()["data"] == []
