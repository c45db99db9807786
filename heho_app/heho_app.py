"""HeHo: the Reflex app, its pages and the REST API mounted beside them."""

import reflex as rx

from heho_app.api.app import create_api
from heho_app.api.headers import security_headers
from heho_app.db import run_migrations
from heho_app.pages import account, auth, chat
from heho_app.pages import audit as audit_page
from heho_app.pages import chatbots as chatbot_pages
from heho_app.pages import keys as keys_page
from heho_app.pages.landing import landing
from heho_app.services.log_retention import prune_logs_periodically
from heho_app.settings import get_settings
from heho_app.state.account import (
    AccountState,
    ForgotState,
    LoginState,
    ResendState,
    ResetState,
    SignupState,
    VerifyState,
)
from heho_app.state.audit import AuditState
from heho_app.state.auth import AuthState
from heho_app.state.chat import ChatState
from heho_app.state.chatbots import ChatbotsState, SettingsState
from heho_app.state.keys import KeysState

settings = get_settings()


async def maintain_database() -> None:
    """Bring HeHo's own database to the newest schema before serving anything, then
    delete log entries past their retention, now and every hour."""
    run_migrations(settings.db_url)
    await prune_logs_periodically()


app = rx.App(
    api_transformer=[create_api(), security_headers],
    head_components=[rx.script(src="/heho_auth.js")],
)
app.register_lifespan_task(maintain_database)
app.add_page(landing, route="/", title="HeHo — an AI chatbot on your own database")

# Accounts. Pages for signed-in users go through add_signed_in_page below.
app.add_page(
    auth.signup_page, route="/signup", title="Sign up — HeHo", on_load=SignupState.reset_form
)
app.add_page(auth.login_page, route="/login", title="Log in — HeHo", on_load=LoginState.load)
app.add_page(
    auth.verify_page, route="/verify", title="Confirm your email — HeHo", on_load=VerifyState.load
)
app.add_page(
    auth.resend_page, route="/resend", title="Confirm your email — HeHo", on_load=ResendState.load
)
app.add_page(
    auth.forgot_page, route="/forgot", title="Forgot your password — HeHo", on_load=ForgotState.load
)
app.add_page(auth.reset_page, route="/reset", title="New password — HeHo", on_load=ResetState.load)


def add_signed_in_page(component, *, route: str, title: str, load) -> None:
    """A page for signed-in users only: the login check runs before the page's own
    load (which checks the user again)."""
    app.add_page(
        component, route=route, title=f"{title} — HeHo", on_load=[AuthState.require_login, load]
    )


add_signed_in_page(account.account_page, route="/account", title="Account", load=AccountState.load)
add_signed_in_page(
    chatbot_pages.chatbots_page, route="/chatbots", title="Chatbots", load=ChatbotsState.load
)
add_signed_in_page(
    chatbot_pages.settings_page,
    route="/chatbots/[chatbot_id]/settings",
    title="Chatbot settings",
    load=SettingsState.load,
)
add_signed_in_page(keys_page.keys_page, route="/keys", title="Keys", load=KeysState.load)
add_signed_in_page(audit_page.audit_page, route="/audit", title="Audit", load=AuditState.load)
add_signed_in_page(chat.chat_page, route="/chat/[chatbot_id]", title="Chat", load=ChatState.load)
