"""States of the account pages: each handler calls one service function.

Passwords arrive in a handler's form data, go to the service and are dropped;
no var ever holds one. Tokens from email links are kept only in backend vars.
"""

import json
import logging
from typing import Any

import reflex as rx

from heho_app import security
from heho_app.services import accounts
from heho_app.services.accounts import AccountError
from heho_app.services.ratelimit import RateLimited
from heho_app.state.auth import current_session, login_redirect, post_script
from heho_app.state.common import form_text, run_service

logger = logging.getLogger("heho.state")


def _client(state: rx.State) -> str:
    return state.router.session.client_ip or ""


def _query(state: rx.State, name: str) -> str:
    return state.router.url.query_parameters.get(name, "")


class SignupState(rx.State):
    email_error: str = ""
    password_error: str = ""
    confirm_error: str = ""
    form_error: str = ""
    done_message: str = ""
    loading: bool = False

    @rx.event
    def reset_form(self):
        self.email_error = self.password_error = self.confirm_error = self.form_error = ""
        self.done_message = ""
        self.loading = False

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        self.email_error = self.password_error = self.confirm_error = self.form_error = ""
        password = form_text(form_data, "password")
        if password != form_text(form_data, "confirm"):
            self.confirm_error = "The two passwords differ."
            return
        self.loading = True
        yield
        try:
            self.done_message = await run_service(
                accounts.signup,
                form_text(form_data, "email"),
                password,
                client_address=_client(self),
            )
        except AccountError as error:
            self._show(error)
        except RateLimited as limited:
            self.form_error = limited.message
        finally:
            self.loading = False

    def _show(self, error: AccountError) -> None:
        if error.field == "email":
            self.email_error = error.message
        elif error.field == "password":
            self.password_error = error.message
        else:
            self.form_error = error.message


class LoginState(rx.State):
    email: str = ""
    email_error: str = ""
    password_error: str = ""
    form_error: str = ""
    notice: str = ""
    needs_verification: bool = False
    resend_message: str = ""
    next_path: str = ""
    loading: bool = False

    @rx.event
    async def load(self):
        self.email_error = self.password_error = self.form_error = ""
        self.needs_verification = False
        self.resend_message = ""
        self.loading = False
        self.next_path = _query(self, "next")
        if _query(self, "deleted"):
            self.notice = "Your account and every row HeHo held about you are deleted."
        elif _query(self, "logged_out"):
            self.notice = "You are logged out."
        elif self.next_path:
            self.notice = "Please log in to continue."
        else:
            self.notice = ""
        if await current_session(self) is not None:
            return rx.redirect(security.safe_next(self.next_path), replace=True)
        return None

    @rx.event
    def submit(self):
        """The form goes straight from the page to POST /auth/login (never through
        this state); the answer comes back to `finished`."""
        self.email_error = self.password_error = self.form_error = ""
        self.needs_verification = False
        self.resend_message = ""
        self.loading = True
        script = (
            "(async () => { const data = window.hehoAuth.formData('login-form'); "
            f"const result = await {post_script('/auth/login', 'data')}; "
            "result.email = data.email || ''; return result; })()"
        )
        return rx.call_script(script, callback=LoginState.finished)

    @rx.event
    def finished(self, result: dict[str, Any]):
        if result.get("ok"):
            return  # the page is already loading its next address
        self.loading = False
        self.email = str(result.get("email", ""))[:320]
        error = result.get("error") or {}
        message = str(error.get("message", "Something went wrong. Try again."))
        code = error.get("code")
        if code == "email_not_verified":
            self.needs_verification = True
            self.email_error = message
        elif error.get("field") == "email":
            self.email_error = message
        elif error.get("field") == "password":
            self.password_error = message
        else:
            self.form_error = message

    @rx.event
    async def resend(self):
        try:
            self.resend_message = await run_service(
                accounts.resend_verification, self.email, client_address=_client(self)
            )
        except (AccountError, RateLimited) as error:
            self.resend_message = error.message


class VerifyState(rx.State):
    status: str = "checking"  # checking | confirmed | failed
    message: str = ""

    @rx.event
    async def load(self):
        try:
            user = await run_service(accounts.verify_email, _query(self, "token"))
            self.status = "confirmed"
            self.message = f"{user.email} is confirmed. You can log in now."
        except AccountError as error:
            self.status = "failed"
            self.message = error.message


class EmailFormState(rx.State, mixin=True):
    """A form with one email field whose answer is a message (/resend, /forgot): the
    same sentence whether or not the address has an account."""

    email_error: str = ""
    message: str = ""
    loading: bool = False

    @rx.event
    def load(self):
        self.email_error = self.message = ""
        self.loading = False

    async def _send(self, email: str, client_address: str) -> str:
        raise NotImplementedError

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        self.email_error = self.message = ""
        self.loading = True
        yield
        try:
            self.message = await self._send(form_text(form_data, "email"), _client(self))
        except (AccountError, RateLimited) as error:
            self.email_error = error.message
        finally:
            self.loading = False


class ResendState(EmailFormState, rx.State):
    async def _send(self, email: str, client_address: str) -> str:
        return await run_service(accounts.resend_verification, email, client_address=client_address)


class ForgotState(EmailFormState, rx.State):
    async def _send(self, email: str, client_address: str) -> str:
        return await run_service(
            accounts.request_password_reset, email, client_address=client_address
        )


class ResetState(rx.State):
    status: str = "checking"  # checking | ready | failed | done
    message: str = ""
    password_error: str = ""
    confirm_error: str = ""
    loading: bool = False
    _token: str = ""

    @rx.event
    async def load(self):
        self.password_error = self.confirm_error = ""
        self.loading = False
        self._token = _query(self, "token")
        try:
            await run_service(accounts.check_reset_token, self._token)
            self.status = "ready"
            self.message = ""
        except AccountError as error:
            self._token = ""
            self.status = "failed"
            self.message = error.message

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        self.password_error = self.confirm_error = ""
        password = form_text(form_data, "new_password")
        if password != form_text(form_data, "confirm"):
            self.confirm_error = "The two passwords differ."
            return
        self.loading = True
        yield
        try:
            await run_service(accounts.reset_password, self._token, password)
            self._token = ""
            self.status = "done"
            self.message = "Your password is changed and every session ended. Log in again."
        except AccountError as error:
            if error.field:
                self.password_error = error.message
            else:
                self.status = "failed"
                self.message = error.message
        finally:
            self.loading = False


class AccountState(rx.State):
    current_error: str = ""
    new_error: str = ""
    confirm_error: str = ""
    password_message: str = ""
    password_loading: bool = False
    delete_error: str = ""
    delete_loading: bool = False

    @rx.event
    def load(self):
        """Runs after AuthState.require_login (see the /account page)."""
        self.current_error = self.new_error = self.confirm_error = ""
        self.password_message = self.delete_error = ""
        self.password_loading = self.delete_loading = False

    @rx.event
    async def change_password(self, form_data: dict[str, Any]):
        self.current_error = self.new_error = self.confirm_error = self.password_message = ""
        new = form_text(form_data, "new_password")
        if new != form_text(form_data, "confirm"):
            self.confirm_error = "The two passwords differ."
            return
        who = await current_session(self)
        if who is None:
            yield login_redirect(self)
            return
        self.password_loading = True
        yield
        try:
            ended = await run_service(
                accounts.change_password,
                who.user_id,
                form_text(form_data, "current_password"),
                new,
                keep_session_id=who.session_id,
            )
            others = "1 other session" if ended == 1 else f"{ended} other sessions"
            self.password_message = f"Password changed. {others} ended."
            yield rx.set_value("current_password", "")
            yield rx.set_value("new_password", "")
            yield rx.set_value("confirm_password", "")
        except AccountError as error:
            if error.field == "current_password":
                self.current_error = error.message
            else:
                self.new_error = error.message
        finally:
            self.password_loading = False

    @rx.event
    async def logout_everywhere(self):
        who = await current_session(self)
        if who is None:
            return login_redirect(self)
        await run_service(accounts.logout_everywhere, who.user_id)
        return rx.call_script(post_script("/auth/logout"))

    @rx.event
    async def export(self):
        who = await current_session(self)
        if who is None:
            return login_redirect(self)
        data = await run_service(accounts.export_account, who.user_id)
        return rx.download(
            data=json.dumps(data, indent=2),
            filename="heho-export.json",
            mime_type="application/json",
        )

    @rx.event
    async def delete_account(self, form_data: dict[str, Any]):
        self.delete_error = ""
        who = await current_session(self)
        if who is None:
            yield login_redirect(self)
            return
        self.delete_loading = True
        yield
        try:
            await run_service(
                accounts.delete_account, who.user_id, form_text(form_data, "password")
            )
        except AccountError as error:
            self.delete_error = error.message
            self.delete_loading = False
            return
        yield rx.call_script(post_script("/auth/logout", '{"next": "/login?deleted=1"}'))
