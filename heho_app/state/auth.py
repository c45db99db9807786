"""Who is signed in, for every page and every state.

The session token is in the HttpOnly `heho_session` cookie. Reflex hands the
request's cookies to the server only (`self.router.headers.cookie`, read from the
websocket connection), never to the page, so the token is read there, checked
against its session row on every use, and never kept in a var.

Use from other pages and states:

    app.add_page(my_page, route="/chatbots", on_load=AuthState.require_login)

    class ChatbotsState(rx.State):
        @rx.event
        async def load(self):
            user_id = await current_user_id(self)      # None when signed out
            if user_id is None:
                return login_redirect(self)
            ...
"""

import json
from urllib.parse import quote

import reflex as rx

from heho_app import security
from heho_app.services import accounts
from heho_app.services.accounts import SignedIn
from heho_app.state.common import run_service

# The backend's origin: the page's own in production (one port); the backend port
# in `reflex run` development mode. `getBackendURL` belongs to Reflex's frontend
# (state.js); scripts run through rx.call_script are evaluated in its scope, and
# the production bundle keeps the name. Without an argument it resolves the ping
# endpoint, whose origin is the backend's.
BACKEND_ORIGIN_JS = (
    "(() => { try { return getBackendURL().origin; } "
    "catch (e) { return window.location.origin; } })()"
)


def post_script(path: str, data_js: str = "{}") -> str:
    """JavaScript that POSTs to one of the /auth endpoints with a CSRF token."""
    return f"window.hehoAuth.post({json.dumps(path)}, {data_js}, {BACKEND_ORIGIN_JS})"


def session_token(state: rx.State) -> str | None:
    """The session token of this connection's browser, if any (server side only)."""
    return security.read_cookie(state.router.headers.cookie, security.SESSION_COOKIE)


async def current_session(state: rx.State) -> SignedIn | None:
    """The signed-in user of this connection, checked now (revocation, expiry, idle)."""
    token = session_token(state)
    if not token:
        return None
    return await run_service(accounts.validate_session, token)


async def current_user_id(state: rx.State) -> int | None:
    """The signed-in user's id for a state handler, or None when signed out."""
    signed_in = await current_session(state)
    return signed_in.user_id if signed_in else None


def current_path(state: rx.State) -> str:
    url = state.router.url
    path = url.path.rstrip("/") or "/"  # the static server adds a trailing slash
    return path + (f"?{url.query}" if url.query else "")


def login_redirect(state: rx.State) -> rx.event.EventSpec:
    """Send the browser to the login page, which brings it back here afterwards."""
    return rx.redirect(f"/login?next={quote(current_path(state), safe='')}", replace=True)


class AuthState(rx.State):
    """Public: whether someone is signed in and their email. Nothing secret."""

    signed_in: bool = False
    email: str = ""
    _user_id: int | None = None
    _session_id: str | None = None

    async def _refresh(self) -> SignedIn | None:
        who = await current_session(self)
        self.signed_in = who is not None
        self.email = who.email if who else ""
        self._user_id = who.user_id if who else None
        self._session_id = who.session_id if who else None
        return who

    @rx.event
    async def require_login(self):
        """on_load of a protected page: signed out → /login?next=<this page>."""
        if await self._refresh() is None:
            return login_redirect(self)
        return None

    @rx.event
    async def check_login(self):
        """on_load of a public page that shows who is signed in."""
        await self._refresh()

    @rx.event
    def logout(self):
        self.signed_in = False
        self.email = ""
        self._user_id = None
        self._session_id = None
        return rx.call_script(post_script("/auth/logout"))
