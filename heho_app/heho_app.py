"""HeHo: the Reflex app, its pages and the REST API mounted beside them."""

import reflex as rx

from heho_app.api.app import create_api
from heho_app.api.headers import security_headers
from heho_app.db import run_migrations
from heho_app.pages import account, auth
from heho_app.pages.landing import landing
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
from heho_app.state.auth import AuthState

settings = get_settings()


async def apply_migrations() -> None:
    """Bring HeHo's own database to the newest schema before serving anything."""
    run_migrations(settings.db_url)


app = rx.App(
    api_transformer=[create_api(), security_headers],
    head_components=[rx.script(src="/heho_auth.js")],
)
app.register_lifespan_task(apply_migrations)
app.add_page(landing, route="/", title="HeHo — an AI chatbot on your own database")

# Accounts. A protected page: on_load=AuthState.require_login (first, if a list).
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
app.add_page(
    account.account_page,
    route="/account",
    title="Account — HeHo",
    on_load=[AuthState.require_login, AccountState.load],
)
