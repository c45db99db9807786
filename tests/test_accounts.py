"""The account service on a real database, with mail in the dev outbox."""

import json
from datetime import timedelta

import jwt
import pytest
from limits.storage import MemoryStorage
from passlib.context import CryptContext
from sqlalchemy import text
from sqlmodel import SQLModel, select

from heho_app import security
from heho_app.models import (
    AccessLogEntry,
    ApiKey,
    AuditEvent,
    Chatbot,
    Credential,
    KeyAccessEvent,
    TableGrant,
    User,
    UserSession,
    utcnow,
)
from heho_app.services import accounts
from heho_app.services.accounts import AccountError
from heho_app.services.ratelimit import Limiter, RateLimited
from tests.fixtures.mail import last_outbox_message, link_in, outbox_messages

PASSWORD = "violet-harbour-engine-42"
NEW_PASSWORD = "quiet-lantern-meadow-77"


@pytest.fixture
def limiter() -> Limiter:
    return Limiter(MemoryStorage())


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


def signup_verified(db, limiter, email="ada@example.com", password=PASSWORD) -> User:
    accounts.signup(db, email, password, client_address="10.0.0.1", limiter=limiter)
    accounts.verify_email(db, token_of(link_in(last_outbox_message(email), "/verify")))
    db.commit()
    return db.exec(select(User).where(User.email == email)).one()


def test_signup_stores_a_bcrypt_cost_12_hash_and_mails_a_link(db, limiter):
    answer = accounts.signup(db, " Ada@Example.COM ", PASSWORD, limiter=limiter)
    user = db.exec(select(User)).one()
    assert user.email == "ada@example.com"
    assert user.password_hash.startswith("$2b$12$")
    assert security.bcrypt_cost(user.password_hash) == 12
    assert PASSWORD not in user.password_hash
    assert user.email_verified_at is None
    assert "on its way" in answer
    message = last_outbox_message("ada@example.com")
    assert "/verify?token=" in link_in(message, "/verify")


def test_signup_answers_the_same_for_an_existing_address(db, limiter):
    first = accounts.signup(db, "ada@example.com", PASSWORD, limiter=limiter)
    second = accounts.signup(db, "ADA@example.com", "another-long-passphrase-9", limiter=limiter)
    assert first == second
    assert len(db.exec(select(User)).all()) == 1


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-pw-1", "short"),
        ("é" * 37, "too_long"),  # 37 characters, 74 bytes
        ("a" * 73, "too_long"),
        ("password1234", "common"),
        ("Qwertyuiop123", "common"),
        ("iloveyou2026!!", "common"),
        ("aaaaaaaaaaaaaaaa", "common"),
    ],
)
def test_signup_refuses_weak_or_too_long_passwords(db, limiter, password, code):
    with pytest.raises(AccountError) as refused:
        accounts.signup(db, "ada@example.com", password, limiter=limiter)
    assert refused.value.code == code
    assert refused.value.field == "password"
    assert password not in refused.value.message
    assert db.exec(select(User)).all() == []


def test_a_72_byte_password_works_and_is_not_truncated(db, limiter):
    password = "k" * 60 + "-unique-tail"  # exactly 72 bytes
    assert len(password.encode()) == 72
    user = signup_verified(db, limiter, password=password)
    assert accounts.login(db, user.email, password, limiter=limiter).token
    with pytest.raises(AccountError):
        accounts.login(db, user.email, password + "x", limiter=limiter)


def test_invalid_email_is_refused_next_to_the_field(db, limiter):
    with pytest.raises(AccountError) as refused:
        accounts.signup(db, "not-an-address", PASSWORD, limiter=limiter)
    assert refused.value.field == "email"


def test_login_is_refused_until_the_email_is_confirmed(db, limiter):
    accounts.signup(db, "ada@example.com", PASSWORD, limiter=limiter)
    with pytest.raises(AccountError) as refused:
        accounts.login(db, "ada@example.com", PASSWORD, limiter=limiter)
    assert refused.value.code == "email_not_verified"
    accounts.resend_verification(db, "ada@example.com", limiter=limiter)
    link = link_in(last_outbox_message("ada@example.com"), "/verify")
    accounts.verify_email(db, token_of(link))
    assert accounts.login(db, "ada@example.com", PASSWORD, limiter=limiter).token


def test_wrong_password_and_unknown_email_get_the_same_answer(db, limiter):
    signup_verified(db, limiter)
    with pytest.raises(AccountError) as wrong:
        accounts.login(db, "ada@example.com", "wrong-password-123", limiter=limiter)
    with pytest.raises(AccountError) as unknown:
        accounts.login(db, "nobody@example.com", "wrong-password-123", limiter=limiter)
    assert wrong.value.message == unknown.value.message == "Wrong email or password."


def test_tampered_verification_link_is_refused(db, limiter):
    accounts.signup(db, "ada@example.com", PASSWORD, limiter=limiter)
    token = token_of(link_in(last_outbox_message("ada@example.com"), "/verify"))
    with pytest.raises(AccountError):
        accounts.verify_email(db, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))


def test_login_upgrades_a_weaker_hash_to_cost_12(db, limiter):
    weak = CryptContext(schemes=["bcrypt"], bcrypt__rounds=4).hash(PASSWORD)
    db.add(User(email="old@example.com", password_hash=weak, email_verified_at=utcnow()))
    db.commit()
    accounts.login(db, "old@example.com", PASSWORD, limiter=limiter)
    db.commit()
    user = db.exec(select(User).where(User.email == "old@example.com")).one()
    assert security.bcrypt_cost(user.password_hash) == 12
    assert security.verify_password(PASSWORD, user.password_hash)[0]


def test_session_token_is_a_7_day_jwt_naming_its_session(db, limiter):
    user = signup_verified(db, limiter)
    result = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    claims = security.decode_session_token(result.token)
    assert claims.session_id == result.session_id
    assert timedelta(days=6, hours=23) < result.expires_at - utcnow() <= timedelta(days=7)
    header = jwt.get_unverified_header(result.token)
    assert header["alg"] == "HS256"
    signed_in = accounts.validate_session(db, result.token)
    assert signed_in is not None and signed_in.user_id == user.id


def test_tampered_expired_or_revoked_tokens_are_refused(db, limiter):
    user = signup_verified(db, limiter)
    result = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    db.commit()
    head, payload, signature = result.token.split(".")
    tampered = f"{head}.{payload}.{signature[:-3]}abc"
    assert accounts.validate_session(db, tampered) is None
    forged = jwt.encode(
        {"sub": str(user.id), "sid": result.session_id, "iat": 1, "exp": 9999999999},
        "another-key-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    assert accounts.validate_session(db, forged) is None
    unsigned = jwt.encode(
        {"sub": str(user.id), "sid": result.session_id, "exp": 9999999999, "typ": "heho-session"},
        None,
        algorithm="none",
    )
    assert accounts.validate_session(db, unsigned) is None
    expired = security.encode_session_token(
        user_id=user.id, session_id=result.session_id, expires_at=utcnow() - timedelta(seconds=1)
    )
    assert accounts.validate_session(db, expired) is None
    assert accounts.validate_session(db, result.token) is not None
    accounts.logout(db, result.token)
    db.commit()
    assert accounts.validate_session(db, result.token) is None


def test_a_session_past_its_row_expiry_is_refused(db, limiter):
    user = signup_verified(db, limiter)
    result = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    row = db.get(UserSession, result.session_id)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert accounts.validate_session(db, result.token) is None


def test_idle_timeout_ends_a_session_nobody_used(db, limiter):
    user = signup_verified(db, limiter)
    result = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    db.commit()
    later = utcnow() + timedelta(minutes=29)
    assert accounts.validate_session(db, result.token, now=later) is not None  # touches
    db.commit()
    assert accounts.validate_session(db, result.token, now=later + timedelta(minutes=29))
    db.commit()
    idle = later + timedelta(minutes=29) + timedelta(minutes=31)
    assert accounts.validate_session(db, result.token, now=idle) is None
    db.commit()
    assert db.get(UserSession, result.session_id).revoked_at is not None
    assert accounts.validate_session(db, result.token) is None


def test_logout_everywhere_ends_every_session(db, limiter):
    user = signup_verified(db, limiter)
    first = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    second = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    assert accounts.logout_everywhere(db, user.id) == 2
    assert accounts.validate_session(db, first.token) is None
    assert accounts.validate_session(db, second.token) is None


def test_change_password_keeps_this_session_and_ends_the_others(db, limiter):
    user = signup_verified(db, limiter)
    here = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    elsewhere = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    with pytest.raises(AccountError) as wrong:
        accounts.change_password(db, user.id, "not-the-password", NEW_PASSWORD)
    assert wrong.value.field == "current_password"
    ended = accounts.change_password(
        db, user.id, PASSWORD, NEW_PASSWORD, keep_session_id=here.session_id
    )
    assert ended == 1
    assert accounts.validate_session(db, here.token) is not None
    assert accounts.validate_session(db, elsewhere.token) is None
    assert accounts.login(db, user.email, NEW_PASSWORD, limiter=limiter).token


def test_reset_link_works_once_and_ends_all_sessions(db, limiter):
    user = signup_verified(db, limiter)
    session = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    known = accounts.request_password_reset(db, user.email, limiter=limiter)
    unknown = accounts.request_password_reset(db, "nobody@example.com", limiter=limiter)
    assert known == unknown
    assert not [m for m in outbox_messages() if "nobody@example.com" in str(m["To"])]
    token = token_of(link_in(last_outbox_message(user.email), "/reset"))
    accounts.check_reset_token(db, token)
    accounts.reset_password(db, token, NEW_PASSWORD)
    db.commit()
    assert accounts.validate_session(db, session.token) is None
    with pytest.raises(AccountError) as reused:
        accounts.reset_password(db, token, "yet-another-passphrase-5")
    assert reused.value.code == "bad_link"
    assert accounts.login(db, user.email, NEW_PASSWORD, limiter=limiter).token


def test_expired_reset_link_is_refused(db, limiter, monkeypatch):
    user = signup_verified(db, limiter)
    accounts.request_password_reset(db, user.email, limiter=limiter)
    token = token_of(link_in(last_outbox_message(user.email), "/reset"))
    monkeypatch.setattr(security, "RESET_PASSWORD_MAX_AGE", timedelta(seconds=-1))
    with pytest.raises(AccountError):
        accounts.reset_password(db, token, NEW_PASSWORD)


def test_rate_limit_says_when_to_try_again(db, limiter, monkeypatch):
    signup_verified(db, limiter)
    monkeypatch.setattr(accounts.get_settings(), "login_limit_account", "3/minute")
    for _ in range(3):
        with pytest.raises(AccountError):
            accounts.login(db, "ada@example.com", "wrong-password-123", limiter=limiter)
    with pytest.raises(RateLimited) as limited:
        accounts.login(db, "ada@example.com", PASSWORD, limiter=limiter)
    assert 1 <= limited.value.retry_after <= 60
    assert f"Try again in {limited.value.retry_after} s" in limited.value.message
    # Another account from another address is not affected.
    with pytest.raises(AccountError):
        accounts.login(db, "bob@example.com", "wrong-password-123", limiter=limiter)


def test_rate_limit_per_address_covers_every_account(db, limiter, monkeypatch):
    monkeypatch.setattr(accounts.get_settings(), "reset_limit_address", "2/minute")
    for index in range(2):
        accounts.request_password_reset(
            db, f"user{index}@example.com", client_address="10.9.9.9", limiter=limiter
        )
    with pytest.raises(RateLimited):
        accounts.request_password_reset(
            db, "user3@example.com", client_address="10.9.9.9", limiter=limiter
        )
    accounts.request_password_reset(
        db, "user3@example.com", client_address="10.9.9.10", limiter=limiter
    )


def _fill_every_table(db, user: User) -> None:
    chatbot = Chatbot(user_id=user.id, name="Shop bot")
    db.add(chatbot)
    db.flush()
    db.add(TableGrant(chatbot_id=chatbot.id, table_name="orders"))
    db.add(
        Credential(
            user_id=user.id,
            chatbot_id=chatbot.id,
            kind="supabase",
            ciphertext="sealed-secret",
            key_id="k1",
            last4="abcd",
        )
    )
    db.add(ApiKey(user_id=user.id, name="ci", prefix=f"hh_{user.id}", key_hash="hashed-api-key"))
    db.add(
        AuditEvent(
            user_id=user.id, seq=1, tool="select_rows", outcome="ok", prev_hash="0", row_hash="1"
        )
    )
    db.add(
        AccessLogEntry(user_id=user.id, method="GET", path="/api/v1/x", status=200, duration_ms=1)
    )
    db.add(
        KeyAccessEvent(user_id=user.id, credential_kind="supabase", purpose="chat", chatbot_id="x")
    )
    db.commit()


def _rows_about(db, user_id: int, chatbot_ids: set[str]) -> dict[str, int]:
    """Walk every table of HeHo's database and count rows naming the user."""
    found: dict[str, int] = {}
    for table in SQLModel.metadata.sorted_tables:
        clauses = []
        if "user_id" in table.c:
            clauses.append(table.c.user_id == user_id)
        if table.name == "users":
            clauses.append(table.c.id == user_id)
        if "chatbot_id" in table.c and chatbot_ids:
            clauses.append(table.c.chatbot_id.in_(chatbot_ids))
        if table.name == "chatbots" and chatbot_ids:
            clauses.append(table.c.id.in_(chatbot_ids))
        if "email" in table.c:
            clauses.append(table.c.email == "ada@example.com")
        count = sum(len(db.execute(table.select().where(clause)).all()) for clause in clauses)
        if count:
            found[table.name] = count
    return found


def test_deleting_the_account_removes_every_row_about_the_user(db, limiter):
    user = signup_verified(db, limiter)
    other = signup_verified(db, limiter, email="bob@example.com")
    accounts.login(db, user.email, PASSWORD, limiter=limiter)
    accounts.login(db, other.email, PASSWORD, limiter=limiter)
    _fill_every_table(db, user)
    _fill_every_table(db, other)
    chatbot_ids = {c.id for c in db.exec(select(Chatbot).where(Chatbot.user_id == user.id))}
    before = _rows_about(db, user.id, chatbot_ids)
    assert set(before) == {t.name for t in SQLModel.metadata.sorted_tables}
    with pytest.raises(AccountError):
        accounts.delete_account(db, user.id, "not-the-password")
    accounts.delete_account(db, user.id, PASSWORD)
    db.commit()
    assert _rows_about(db, user.id, chatbot_ids) == {}
    # The other account keeps everything.
    other_bots = {c.id for c in db.exec(select(Chatbot).where(Chatbot.user_id == other.id))}
    assert len(_rows_about(db, other.id, other_bots)) == len(before)
    # Nothing left in any table mentions the address, in any column.
    for table in SQLModel.metadata.sorted_tables:
        for row in db.execute(text(f'SELECT * FROM "{table.name}"')).all():  # noqa: S608
            assert "ada@example.com" not in json.dumps([str(v) for v in row])


def test_export_holds_everything_but_secrets(db, limiter):
    user = signup_verified(db, limiter)
    accounts.login(db, user.email, PASSWORD, limiter=limiter)
    _fill_every_table(db, user)
    data = accounts.export_account(db, user.id)
    dumped = json.dumps(data)
    assert data["account"]["email"] == "ada@example.com"
    for table in SQLModel.metadata.sorted_tables:
        if table.name != "users":
            assert data["tables"][table.name], f"{table.name} missing from the export"
    for secret in ("sealed-secret", "hashed-api-key", user.password_hash, PASSWORD):
        assert secret not in dumped
    for rows in data["tables"].values():
        for row in rows:
            assert not set(row) & accounts.SECRET_COLUMNS


def test_ended_sessions_are_forgotten_at_the_next_login(db, limiter):
    user = signup_verified(db, limiter)
    first = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    accounts.logout(db, first.token)
    db.commit()
    second = accounts.login(db, user.email, PASSWORD, limiter=limiter)
    db.commit()
    rows = db.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert [row.id for row in rows] == [second.session_id]
