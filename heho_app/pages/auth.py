"""The pages of signing up and in: /signup, /login, /verify, /resend, /forgot, /reset."""

import reflex as rx

from heho_app.components.forms import auth_card, notice, submit_button, text_field
from heho_app.components.layout import public_shell
from heho_app.state.account import (
    ForgotState,
    LoginState,
    ResendState,
    ResetState,
    SignupState,
    VerifyState,
)

CHOOSING_ADVICE = "At least 12 characters; a few unrelated words make a good one."


def small_link(text: str, href: str) -> rx.Component:
    return rx.link(text, href=href, size="2")


def signup_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Create your HeHo account",
            "We will email you a link to confirm your address.",
            rx.cond(
                SignupState.done_message != "",
                rx.vstack(
                    rx.callout(
                        SignupState.done_message,
                        icon="mail-check",
                        color_scheme="grass",
                        id="signup-done",
                    ),
                    small_link("Didn't get it? Send the link again", "/resend"),
                    spacing="3",
                ),
                rx.form(
                    rx.vstack(
                        notice(SignupState.form_error, "red", "triangle-alert"),
                        text_field(
                            "Email",
                            "email",
                            type="email",
                            autocomplete="email",
                            error=SignupState.email_error,
                            placeholder="you@example.com",
                        ),
                        text_field(
                            "Password",
                            "password",
                            type="password",
                            autocomplete="new-password",
                            error=SignupState.password_error,
                            hint=CHOOSING_ADVICE,
                        ),
                        text_field(
                            "Repeat the password",
                            "confirm",
                            type="password",
                            autocomplete="new-password",
                            error=SignupState.confirm_error,
                        ),
                        submit_button("Sign up", SignupState.loading),
                        rx.hstack(
                            rx.text("Already have an account?", size="2"),
                            small_link("Log in", "/login"),
                            spacing="1",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    on_submit=SignupState.submit,
                    width="100%",
                ),
            ),
        )
    )


def login_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Log in to HeHo",
            "Welcome back.",
            notice(LoginState.notice, "blue", "info"),
            notice(LoginState.form_error, "red", "triangle-alert"),
            rx.form(
                rx.vstack(
                    text_field(
                        "Email",
                        "email",
                        type="email",
                        autocomplete="username",
                        error=LoginState.email_error,
                        placeholder="you@example.com",
                    ),
                    rx.cond(
                        LoginState.needs_verification,
                        rx.vstack(
                            rx.button(
                                "Send the confirmation link again",
                                type="button",
                                variant="soft",
                                size="2",
                                on_click=LoginState.resend,
                            ),
                            notice(LoginState.resend_message, "grass", "mail-check"),
                            spacing="2",
                            width="100%",
                        ),
                    ),
                    text_field(
                        "Password",
                        "password",
                        type="password",
                        autocomplete="current-password",
                        error=LoginState.password_error,
                    ),
                    rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                    submit_button("Log in", LoginState.loading),
                    rx.hstack(
                        small_link("Forgot your password?", "/forgot"),
                        small_link("Create an account", "/signup"),
                        justify="between",
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
                id="login-form",
                on_submit=LoginState.submit,
                width="100%",
            ),
        )
    )


def link_outcome(
    message: rx.Var, *, ok: bool, result_id: str, next_step: rx.Component | None = None
) -> rx.Component:
    """What the page of a mailed link shows once the link is checked; after success
    the next step is to log in."""
    return rx.vstack(
        rx.callout(
            message,
            icon="circle-check" if ok else "triangle-alert",
            color_scheme="grass" if ok else "red",
            id=result_id,
        ),
        next_step
        if next_step is not None
        else rx.link(rx.button("Log in", size="3", width="100%"), href="/login"),
        spacing="3",
        width="100%",
    )


def checking_link() -> rx.Component:
    return rx.hstack(rx.spinner(), rx.text("Checking your link…"), spacing="2")


def verify_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Confirm your email",
            "",
            rx.match(
                VerifyState.status,
                (
                    "confirmed",
                    link_outcome(VerifyState.message, ok=True, result_id="verify-result"),
                ),
                (
                    "failed",
                    link_outcome(
                        VerifyState.message,
                        ok=False,
                        result_id="verify-result",
                        next_step=small_link("Send a new confirmation link", "/resend"),
                    ),
                ),
                checking_link(),
            ),
        )
    )


def email_only_form(state, button: str, form_id: str) -> rx.Component:
    return rx.form(
        rx.vstack(
            text_field(
                "Email",
                "email",
                type="email",
                autocomplete="email",
                error=state.email_error,
                placeholder="you@example.com",
            ),
            submit_button(button, state.loading),
            spacing="4",
            width="100%",
        ),
        id=form_id,
        on_submit=state.submit,
        width="100%",
    )


def resend_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Confirm your email",
            "Enter your address and we will send a new confirmation link.",
            notice(ResendState.message, "grass", "mail-check"),
            email_only_form(ResendState, "Send the link", "resend-form"),
            small_link("Back to log in", "/login"),
        )
    )


def forgot_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Forgot your password?",
            "Enter your address and we will send a link to choose a new one.",
            notice(ForgotState.message, "grass", "mail-check"),
            email_only_form(ForgotState, "Send the link", "forgot-form"),
            small_link("Back to log in", "/login"),
        )
    )


def reset_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Choose a new password",
            "Choosing a new password logs you out everywhere.",
            rx.match(
                ResetState.status,
                (
                    "ready",
                    rx.form(
                        rx.vstack(
                            text_field(
                                "New password",
                                "new_password",
                                type="password",
                                autocomplete="new-password",
                                error=ResetState.password_error,
                                hint=CHOOSING_ADVICE,
                            ),
                            text_field(
                                "Repeat the new password",
                                "confirm",
                                type="password",
                                autocomplete="new-password",
                                error=ResetState.confirm_error,
                            ),
                            submit_button("Save the new password", ResetState.loading),
                            spacing="4",
                            width="100%",
                        ),
                        on_submit=ResetState.submit,
                        width="100%",
                    ),
                ),
                (
                    "done",
                    link_outcome(ResetState.message, ok=True, result_id="reset-result"),
                ),
                (
                    "failed",
                    link_outcome(
                        ResetState.message,
                        ok=False,
                        result_id="reset-result",
                        next_step=small_link("Ask for a new link", "/forgot"),
                    ),
                ),
                checking_link(),
            ),
        )
    )
