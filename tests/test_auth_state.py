"""AuthState and the helpers other states use, without a server or a browser."""

import json

from limits.storage import MemoryStorage

from heho_app.models import User, utcnow
from heho_app.security import SESSION_COOKIE, hash_password
from heho_app.services import accounts
from heho_app.services.ratelimit import Limiter
from heho_app.state.account import AccountState
from heho_app.state.auth import AuthState, current_user_id
from tests.fixtures.accounts import PASSWORD, state_on_connection


def _login(db) -> tuple[int, str]:
    user = User(email="ada@example.com", password_hash=hash_password(PASSWORD))
    user.email_verified_at = utcnow()
    db.add(user)
    db.commit()
    result = accounts.login(db, user.email, PASSWORD, limiter=Limiter(MemoryStorage()))
    db.commit()
    return result.user_id, result.token


def _redirect_target(spec) -> str | None:
    if spec is None:
        return None
    return dict((str(k), v) for k, v in spec.args)["path"]._var_value


async def test_require_login_sends_a_signed_out_visitor_to_login_and_back(db):
    auth = state_on_connection(AuthState, url="http://127.0.0.1/account/?tab=keys")
    spec = await AuthState.require_login.fn(auth)
    assert _redirect_target(spec) == "/login?next=%2Faccount%3Ftab%3Dkeys"
    assert auth.signed_in is False


async def test_require_login_lets_a_signed_in_user_through_and_keeps_no_token(db):
    user_id, token = _login(db)
    auth = state_on_connection(
        AuthState, cookie=f"other=1; {SESSION_COOKIE}={token}", url="http://127.0.0.1/account/"
    )
    assert await AuthState.require_login.fn(auth) is None
    assert auth.signed_in is True
    assert auth.email == "ada@example.com"
    assert auth._user_id == user_id
    # Nothing Reflex would send to the browser holds the token.
    public = json.dumps(auth.dict(), default=str)
    assert token not in public
    assert "_user_id" not in public and "_session_id" not in public


async def test_other_states_get_the_user_id_from_the_connection(db):
    user_id, token = _login(db)
    account = state_on_connection(AccountState, cookie=f"{SESSION_COOKIE}={token}")
    assert await current_user_id(account) == user_id
    signed_out = state_on_connection(AccountState, cookie=f"{SESSION_COOKIE}={token}x")
    assert await current_user_id(signed_out) is None


async def test_a_revoked_session_is_signed_out_on_the_next_event(db):
    user_id, token = _login(db)
    auth = state_on_connection(AuthState, cookie=f"{SESSION_COOKIE}={token}")
    assert await AuthState.require_login.fn(auth) is None
    accounts.logout_everywhere(db, user_id)
    db.commit()
    assert _redirect_target(await AuthState.require_login.fn(auth)) == "/login?next=%2F"
    assert auth.signed_in is False
