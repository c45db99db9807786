"""State of /keys: the OpenRouter key and the key access log.

The OpenRouter key arrives once in `save_openrouter_key`'s form data, goes to the
service (checked, then encrypted) and is dropped; the page only ever gets its last
four characters back.
"""

from typing import Any, TypedDict

import reflex as rx

from heho_app.services import api_keys, keys
from heho_app.state.auth import current_user_id, login_redirect
from heho_app.state.common import form_text, run_service, when


class AccessRow(TypedDict):
    id: int
    when: str
    kind: str
    chatbot: str
    purpose: str


def _access_row(event: keys.KeyAccess) -> AccessRow:
    kind = "OpenRouter" if event.kind == "openrouter" else "Supabase"
    return AccessRow(
        id=event.id,
        when=when(event.created_at),
        kind=kind,
        chatbot=event.chatbot_name or (event.chatbot_id or "—"),
        purpose=event.purpose,
    )


class ApiKeyRow(TypedDict):
    id: int
    name: str
    prefix: str
    created: str
    last_used: str
    revoked: bool
    revoked_at: str


def _api_key_row(info: api_keys.ApiKeyInfo) -> ApiKeyRow:
    return ApiKeyRow(
        id=info.id,
        name=info.name,
        prefix=info.prefix,
        created=when(info.created_at),
        last_used=when(info.last_used_at),
        revoked=info.revoked_at is not None,
        revoked_at=when(info.revoked_at, ""),
    )


NEW_KEY_FIELD = "new-api-key"


class KeysState(rx.State):
    openrouter_last4: str = ""
    openrouter_updated: str = ""
    openrouter_error: str = ""
    openrouter_message: str = ""
    openrouter_loading: bool = False
    remove_open: bool = False
    access: list[AccessRow] = []
    loading: bool = False
    # HeHo API keys. A new key is never put in a var: it is written once into the
    # page's read-only field by `rx.set_value`, so it travels in exactly one frame.
    api_key_rows: list[ApiKeyRow] = []
    api_key_error: str = ""
    api_key_message: str = ""
    new_key_name: str = ""
    revoke_id: int = 0
    revoke_name: str = ""
    revoke_open: bool = False

    async def _refresh(self, user_id: int) -> None:
        overview = await run_service(keys.keys_overview, user_id=user_id)
        stored = overview.openrouter
        self.openrouter_last4 = stored.last4 if stored else ""
        self.openrouter_updated = when(stored.updated_at) if stored else ""
        self.api_key_rows = [_api_key_row(k) for k in overview.api_keys]
        self.access = [_access_row(e) for e in overview.access]

    @rx.event
    async def load(self):
        self.openrouter_error = self.openrouter_message = ""
        self.openrouter_loading = self.remove_open = self.revoke_open = False
        self.api_key_error = self.api_key_message = self.new_key_name = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        self.loading = True
        await self._refresh(user_id)
        self.loading = False
        return None

    @rx.event(background=True)
    async def save_openrouter_key(self, form_data: dict[str, Any]):
        async with self:
            self.openrouter_error = self.openrouter_message = ""
            user_id = await current_user_id(self)
            if user_id is None:
                return login_redirect(self)
            self.openrouter_loading = True
        try:
            await keys.set_openrouter_key(
                user_id=user_id, key=form_text(form_data, "openrouter_key")
            )
        except keys.OpenRouterKeyError as error:
            async with self:
                self.openrouter_loading = False
                self.openrouter_error = error.message
            return None
        async with self:
            self.openrouter_loading = False
            await self._refresh(user_id)
            self.openrouter_message = "OpenRouter accepted the key; it is saved encrypted."
        return rx.set_value("openrouter_key", "")

    @rx.event
    def set_remove_open(self, value: bool):
        self.remove_open = value

    @rx.event
    async def remove_openrouter_key(self):
        self.remove_open = False
        self.openrouter_error = self.openrouter_message = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        await run_service(keys.remove_openrouter_key, user_id=user_id)
        await self._refresh(user_id)
        self.openrouter_message = "The OpenRouter key is deleted."
        return None

    # ------------------------------------------------------------------ HeHo API keys

    async def _show_new_key(self, new: api_keys.NewApiKey, user_id: int):
        self.new_key_name = new.info.name
        await self._refresh(user_id)
        return rx.set_value(NEW_KEY_FIELD, new.plaintext)

    @rx.event
    async def create_api_key(self, form_data: dict[str, Any]):
        self.api_key_error = self.api_key_message = self.new_key_name = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            new = await run_service(
                api_keys.create_api_key, user_id=user_id, name=form_text(form_data, "api_key_name")
            )
        except ValueError:
            self.api_key_error = f"A key name has 1 to {api_keys.NAME_MAX_LENGTH} characters."
            return None
        return [rx.set_value("api_key_name", ""), await self._show_new_key(new, user_id)]

    @rx.event
    async def rotate_api_key(self, key_id: int):
        self.api_key_error = self.api_key_message = self.new_key_name = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            new = await run_service(api_keys.rotate_api_key, user_id=user_id, key_id=key_id)
        except api_keys.ApiKeyError:
            self.api_key_error = "This key is already revoked."
            await self._refresh(user_id)
            return None
        self.api_key_message = "The old key stopped working; here is its successor."
        return await self._show_new_key(new, user_id)

    @rx.event
    def ask_revoke(self, key_id: int, name: str):
        self.revoke_id = key_id
        self.revoke_name = name
        self.revoke_open = True

    @rx.event
    def set_revoke_open(self, value: bool):
        self.revoke_open = value

    @rx.event
    async def confirm_revoke(self):
        self.revoke_open = False
        self.api_key_error = self.api_key_message = ""
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        try:
            await run_service(api_keys.revoke_api_key, user_id=user_id, key_id=self.revoke_id)
            self.api_key_message = f"“{self.revoke_name}” is revoked: it stopped working."
        except api_keys.ApiKeyError:
            self.api_key_error = "This key is already revoked."
        await self._refresh(user_id)
        return None

    @rx.event
    def hide_new_key(self):
        self.new_key_name = ""
        return rx.set_value(NEW_KEY_FIELD, "")
