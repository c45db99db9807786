"""States of /chatbots and /chatbots/[id]/settings: each handler calls one service.

A Supabase key typed into the connection form reaches `connect` in its form data, is
handed to the service and dropped: no var ever holds it, and the page only learns
its last four characters.
"""

import logging
from typing import Any, TypedDict

import reflex as rx

from heho_app.services import chatbot_config, openrouter
from heho_app.services.chatbot_config import ChatbotDetail, ChatbotError, ChatbotNotFound
from heho_app.services.supabase_link import LinkCheck
from heho_app.state.auth import current_user_id, login_redirect
from heho_app.state.common import form_text, path_part, run_service, when

logger = logging.getLogger("heho.state")

SETTINGS_ERRORS = (*chatbot_config.SETTING_FIELDS, "form")
CONNECTION_ERRORS = ("supabase_url", "supabase_key", "connection")
MAX_MODEL_MATCHES = 40


class ChatbotRow(TypedDict):
    id: str
    name: str
    model: str
    theme: str
    project: str
    connected: bool
    last_used: str


class ModelOption(TypedDict):
    id: str
    name: str
    context: str
    price: str
    tools: bool


class GrantRow(TypedDict):
    table: str
    read: bool
    insert: bool
    update: bool
    delete: bool
    found: bool


def _row(summary: chatbot_config.ChatbotSummary) -> ChatbotRow:
    return ChatbotRow(
        id=summary.id,
        name=summary.name,
        model=summary.model,
        theme=summary.theme,
        project=summary.project_host or "",
        connected=summary.connected,
        last_used=when(summary.last_used_at),
    )


def _per_million(price: float | None) -> str:
    if price is None:
        return "?"
    value = price * 1_000_000
    return "free" if value == 0 else f"${value:.2f}"


def model_option(model: openrouter.ModelInfo) -> ModelOption:
    context = (
        f"{model.context_length // 1000}k context"
        if model.context_length and model.context_length >= 1000
        else f"{model.context_length} context"
        if model.context_length
        else "context unknown"
    )
    if model.prompt_price is None and model.completion_price is None:
        price = "price varies"
    else:
        price = (
            f"{_per_million(model.prompt_price)} in / "
            f"{_per_million(model.completion_price)} out per 1M tokens"
        )
    return ModelOption(
        id=model.id, name=model.name, context=context, price=price, tools=model.supports_tools
    )


MODELS_UNAVAILABLE = "Type a model id instead, e.g. openai/gpt-4o-mini."


async def fetch_model_options() -> tuple[list[ModelOption], str]:
    """OpenRouter's models for the picker, or none and the reason the page shows."""
    try:
        return [model_option(m) for m in await openrouter.list_models()], ""
    except openrouter.OpenRouterError as failure:
        return [], (
            f"The model list could not be fetched: {failure.info.message} {MODELS_UNAVAILABLE}"
        )


class ChatbotsState(rx.State):
    """/chatbots: the list, create, duplicate, delete."""

    rows: list[ChatbotRow] = []
    loading: bool = False
    create_open: bool = False
    create_error: str = ""
    create_loading: bool = False
    delete_id: str = ""
    delete_name: str = ""
    delete_open: bool = False
    message: str = ""
    error: str = ""

    async def _reload(self, user_id: int) -> None:
        summaries = await run_service(chatbot_config.list_chatbots, user_id=user_id)
        self.rows = [_row(s) for s in summaries]

    @rx.event
    async def load(self):
        self.message = self.error = self.create_error = ""
        self.create_open = self.delete_open = False
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        self.loading = True
        await self._reload(user_id)
        self.loading = False
        return None

    @rx.event
    def set_create_open(self, value: bool):
        self.create_open = value
        self.create_error = ""

    @rx.event
    async def create(self, form_data: dict[str, Any]):
        self.create_error = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            detail = await run_service(
                chatbot_config.create_chatbot,
                user_id=user_id,
                data={"name": form_text(form_data, "name")},
            )
        except ChatbotError as error:
            self.create_error = error.fields.get("name", error.message)
            return None
        self.create_open = False
        return rx.redirect(f"/chatbots/{detail.id}/settings")

    @rx.event
    async def duplicate(self, chatbot_id: str):
        self.message = self.error = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            copy = await run_service(
                chatbot_config.duplicate_chatbot, user_id=user_id, chatbot_id=chatbot_id
            )
            self.message = (
                f"“{copy.settings.name}” created with the same settings and grants. "
                "Connect it to a project in its settings."
            )
        except ChatbotNotFound as error:
            self.error = error.message
        await self._reload(user_id)
        return None

    @rx.event
    def ask_delete(self, chatbot_id: str, name: str):
        self.delete_id = chatbot_id
        self.delete_name = name
        self.delete_open = True

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value

    @rx.event
    async def confirm_delete(self):
        self.message = self.error = ""
        self.delete_open = False
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            await run_service(
                chatbot_config.delete_chatbot, user_id=user_id, chatbot_id=self.delete_id
            )
            self.message = f"“{self.delete_name}” was deleted."
        except ChatbotNotFound as error:
            self.error = error.message
        self.delete_id = self.delete_name = ""
        await self._reload(user_id)
        return None


def _no_errors(names: tuple[str, ...]) -> dict[str, str]:
    return dict.fromkeys(names, "")


class SettingsState(rx.State):
    """/chatbots/[id]/settings: settings, connection and grants of one chatbot."""

    bot_id: str = ""
    status: str = "loading"  # loading | ready | missing
    # The saved settings (the form's starting values).
    name: str = ""
    goal: str = ""
    description: str = ""
    temperature: str = "0.7"
    row_cap: str = "100"
    # Settings chosen with controls; saved with the form.
    model: str = ""
    tone: str = "friendly"
    theme: str = "twilight"
    memory_enabled: bool = True
    approve_writes: bool = False
    log_filter_values: bool = False
    errors: dict[str, str] = _no_errors(SETTINGS_ERRORS)
    saved_message: str = ""
    save_loading: bool = False
    # The model list.
    models: list[ModelOption] = []
    models_loading: bool = False
    models_error: str = ""
    # The connection: never the key, only its last four characters.
    supabase_url: str = ""
    key_last4: str = ""
    connection_errors: dict[str, str] = _no_errors(CONNECTION_ERRORS)
    connection_message: str = ""
    connect_loading: bool = False
    test_loading: bool = False
    remove_open: bool = False
    check_done: bool = False
    check_ok: bool = False
    check_message: str = ""
    check_tables: list[str] = []
    check_missing: list[str] = []
    # Grants.
    grants: list[GrantRow] = []
    grants_error: str = ""
    grants_message: str = ""
    grants_loading: bool = False
    delete_table: str = ""
    delete_open: bool = False

    @rx.var
    def model_matches(self) -> list[ModelOption]:
        """Models whose id or name contains the typed text; all of them when none does
        (or when the text is already a listed id)."""
        query = self.model.strip().lower()
        found = [m for m in self.models if query in m["id"].lower() or query in m["name"].lower()]
        if not found or any(m["id"] == self.model for m in self.models):
            found = self.models
        return found[:MAX_MODEL_MATCHES]

    @rx.var
    def model_known(self) -> bool:
        return any(m["id"] == self.model for m in self.models)

    @rx.var
    def connected(self) -> bool:
        return bool(self.supabase_url and self.key_last4)

    def _show(self, detail: ChatbotDetail) -> None:
        s = detail.settings
        self.bot_id = detail.id
        self.name, self.goal, self.description = s.name, s.goal, s.description
        self.temperature = f"{s.temperature:g}"
        self.row_cap = str(s.row_cap)
        self.model, self.tone, self.theme = s.model, s.tone, s.theme
        self.memory_enabled = s.memory_enabled
        self.approve_writes = s.approve_writes
        self.log_filter_values = s.log_filter_values
        self.supabase_url = detail.supabase_url or ""
        self.key_last4 = detail.key_last4 or ""

    def _clear_messages(self) -> None:
        self.errors = _no_errors(SETTINGS_ERRORS)
        self.connection_errors = _no_errors(CONNECTION_ERRORS)
        self.saved_message = self.connection_message = ""
        self.grants_error = self.grants_message = ""

    def _show_check(self, check: LinkCheck) -> None:
        self.check_done = True
        self.check_ok = check.ok
        self.check_message = check.message
        self.check_tables = chatbot_config.grantable_tables(check)
        self.check_missing = list(check.missing_heho_tables)
        if check.db_schema is not None:
            self._merge_tables(self.check_tables)
        if not check.ok:
            field = chatbot_config.link_problem_field(check)
            self.connection_errors = {**_no_errors(CONNECTION_ERRORS), field: check.message}

    def _merge_tables(self, tables: list[str]) -> None:
        """Add newly discovered tables to the grid with the defaults (read on)."""
        found = set(tables)
        rows = {row["table"]: {**row, "found": row["table"] in found} for row in self.grants}
        for table in tables:
            rows.setdefault(
                table,
                GrantRow(
                    table=table, read=True, insert=False, update=False, delete=False, found=True
                ),
            )
        self.grants = [rows[name] for name in sorted(rows)]  # type: ignore[misc]

    @rx.event
    async def load(self):
        self._clear_messages()
        self.status = "loading"
        self.check_done = False
        self.check_tables = self.check_missing = []
        self.grants = []
        self.remove_open = self.delete_open = False
        self.save_loading = self.connect_loading = self.test_loading = False
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            detail, grants = await run_service(
                chatbot_config.get_chatbot_with_grants,
                user_id=user_id,
                chatbot_id=path_part(self, 1),
            )
        except ChatbotNotFound:
            self.bot_id = ""
            self.status = "missing"
            return None
        self._show(detail)
        self.grants = [
            GrantRow(
                table=g.table,
                read=g.read,
                insert=g.insert,
                update=g.update,
                delete=g.delete,
                found=True,
            )
            for g in grants
        ]
        self.status = "ready"
        return SettingsState.load_models

    @rx.event(background=True)
    async def load_models(self):
        async with self:
            self.models_loading = True
            self.models_error = ""
        models, error = await fetch_model_options()
        async with self:
            self.models = models
            self.models_error = error
            self.models_loading = False

    # ------------------------------------------------------------------ settings

    @rx.event
    def set_model(self, value: str):
        self.model = value[:200]

    @rx.event
    def pick_model(self, model_id: str):
        self.model = model_id
        self.errors = {**self.errors, "model": ""}

    @rx.event
    def set_tone(self, value: str):
        self.tone = value

    @rx.event
    def set_theme(self, value: str):
        self.theme = value

    @rx.event
    def set_memory_enabled(self, value: bool):
        self.memory_enabled = value

    @rx.event
    def set_approve_writes(self, value: bool):
        self.approve_writes = value

    @rx.event
    def set_log_filter_values(self, value: bool):
        self.log_filter_values = value

    @rx.event
    async def save(self, form_data: dict[str, Any]):
        self._clear_messages()
        user_id = await current_user_id(self)
        if user_id is None:
            yield login_redirect(self)
            return
        data = {
            "name": form_text(form_data, "name"),
            "goal": form_text(form_data, "goal"),
            "description": form_text(form_data, "description"),
            "temperature": form_text(form_data, "temperature").strip(),
            "row_cap": form_text(form_data, "row_cap").strip(),
            "model": self.model,
            "tone": self.tone,
            "theme": self.theme,
            "memory_enabled": self.memory_enabled,
            "approve_writes": self.approve_writes,
            "log_filter_values": self.log_filter_values,
        }
        self.save_loading = True
        yield
        try:
            detail = await run_service(
                chatbot_config.update_chatbot, user_id=user_id, chatbot_id=self.bot_id, data=data
            )
        except ChatbotError as error:
            self.errors = {
                **_no_errors(SETTINGS_ERRORS),
                **{k: v for k, v in error.fields.items() if k in SETTINGS_ERRORS},
            }
            if not any(self.errors.values()):
                self.errors = {**self.errors, "form": error.message}
            return
        except ChatbotNotFound:
            self.status = "missing"
            return
        finally:
            self.save_loading = False
        self._show(detail)
        self.saved_message = "Settings saved."

    # ------------------------------------------------------------------ connection

    @rx.event(background=True)
    async def connect(self, form_data: dict[str, Any]):
        """Test the typed URL and key (or the saved key), and save them if they work."""
        async with self:
            self._clear_messages()
            user_id = await current_user_id(self)
            chatbot_id = self.bot_id
            if user_id is None:
                return login_redirect(self)
            self.connect_loading = True
        try:
            result = await chatbot_config.connect_and_save(
                user_id=user_id,
                chatbot_id=chatbot_id,
                url=form_text(form_data, "supabase_url"),
                key=form_text(form_data, "supabase_key").strip() or None,
            )
        except ChatbotError as error:
            async with self:
                self.connect_loading = False
                self.connection_errors = {**_no_errors(CONNECTION_ERRORS), **error.fields}
            return None
        except ChatbotNotFound:
            async with self:
                self.connect_loading = False
                self.status = "missing"
            return None
        async with self:
            self.connect_loading = False
            self._show_check(result.check)
            if result.detail is not None:
                self.supabase_url = result.detail.supabase_url or ""
                self.key_last4 = result.detail.key_last4 or ""
                self.connection_message = "Connection saved."
        return rx.set_value("supabase_key", "") if result.saved else None

    @rx.event(background=True)
    async def test_saved(self):
        """Check the saved connection (the stored key is decrypted, and that is logged)."""
        async with self:
            self._clear_messages()
            user_id = await current_user_id(self)
            chatbot_id = self.bot_id
            if user_id is None:
                return login_redirect(self)
            self.test_loading = True
        try:
            check = await chatbot_config.test_connection(user_id=user_id, chatbot_id=chatbot_id)
        except ChatbotError as error:
            async with self:
                self.test_loading = False
                self.connection_errors = {**_no_errors(CONNECTION_ERRORS), **error.fields}
            return None
        except ChatbotNotFound:
            async with self:
                self.test_loading = False
                self.status = "missing"
            return None
        async with self:
            self.test_loading = False
            self._show_check(check)
        return None

    @rx.event
    def set_remove_open(self, value: bool):
        self.remove_open = value

    @rx.event
    async def remove_connection(self):
        self._clear_messages()
        self.remove_open = False
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            detail = await run_service(
                chatbot_config.remove_connection, user_id=user_id, chatbot_id=self.bot_id
            )
        except ChatbotNotFound:
            self.status = "missing"
            return None
        self.supabase_url = detail.supabase_url or ""
        self.key_last4 = ""
        self.check_done = False
        self.connection_message = "Connection removed: the key is deleted. Grants are kept."
        return rx.set_value("supabase_url", "")

    # ------------------------------------------------------------------ grants

    @rx.event
    def set_grant(self, table: str, operation: str, value: bool):
        if operation not in ("read", "insert", "update", "delete"):
            return
        self.grants_message = self.grants_error = ""
        if operation == "delete" and value:
            self.delete_table = table
            self.delete_open = True
            return
        self._set(table, operation, bool(value))

    def _set(self, table: str, operation: str, value: bool) -> None:
        self.grants = [
            {**row, operation: value} if row["table"] == table else row  # type: ignore[misc]
            for row in self.grants
        ]

    @rx.event
    def confirm_delete_grant(self):
        self._set(self.delete_table, "delete", True)
        self.delete_open = False
        self.delete_table = ""

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value
        if not value:
            self.delete_table = ""

    @rx.event
    async def save_grants(self):
        self.grants_message = self.grants_error = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        data = [
            {
                "table": row["table"],
                "read": row["read"],
                "insert": row["insert"],
                "update": row["update"],
                "delete": row["delete"],
                # The delete dialog was confirmed before the box could be ticked.
                "confirm_delete": row["delete"],
            }
            for row in self.grants
        ]
        try:
            await run_service(
                chatbot_config.save_grants, user_id=user_id, chatbot_id=self.bot_id, grants=data
            )
        except ChatbotError as error:
            self.grants_error = error.fields.get("grants", error.message)
            return None
        except ChatbotNotFound:
            self.status = "missing"
            return None
        self.grants_message = "Permissions saved."
        return None
