"""Form pieces shared by the account pages: a centred card, labelled fields with
their error underneath, a notice banner and a submit button with a loading state."""

import reflex as rx


def auth_card(title: str, subtitle: str | rx.Var, *children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading(title, size="6", as_="h1"),
                rx.text(subtitle, size="2", color=rx.color("gray", 11)),
                *children,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="28rem",
        ),
        padding_top="3rem",
        width="100%",
    )


def field_error(message: rx.Var[str], field_id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(
            message,
            size="1",
            color=rx.color("red", 11),
            id=f"{field_id}-error",
            role="alert",
        ),
    )


def text_field(
    label: str,
    name: str,
    *,
    error: rx.Var[str] | str = "",
    type: str = "text",
    autocomplete: str = "off",
    field_id: str | None = None,
    placeholder: str = "",
    hint: str = "",
    default_value: rx.Var[str] | str | None = None,
) -> rx.Component:
    field_id = field_id or name
    extra = {} if default_value is None else {"default_value": default_value}
    error_var = rx.Var.create(error)
    return rx.vstack(
        rx.el.label(
            rx.text(label, size="2", weight="medium"),
            html_for=field_id,
        ),
        rx.input(
            name=name,
            id=field_id,
            type=type,
            auto_complete=autocomplete,
            placeholder=placeholder,
            size="3",
            width="100%",
            required=True,
            color_scheme=rx.cond(error_var != "", "red", "gray"),
            aria_describedby=f"{field_id}-error",
            **extra,
        ),
        rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10))),
        field_error(error_var, field_id),
        spacing="1",
        width="100%",
        align="stretch",
    )


def notice(message: rx.Var[str], color: str = "grass", icon: str = "info") -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon=icon, color_scheme=color, size="1", width="100%"),
    )


def submit_button(label: str, loading: rx.Var[bool], **props) -> rx.Component:
    props.setdefault("width", "100%")
    props.setdefault("size", "3")
    return rx.button(label, type="submit", loading=loading, disabled=loading, **props)
