"""State of /keys: the OpenRouter key and the key access log.

The OpenRouter key arrives once in `save_openrouter_key`'s form data, goes to the
service (checked, then encrypted) and is dropped; the page only ever gets its last
four characters back.
"""

from typing import Any, TypedDict

import reflex as rx

from heho_app.db import session_scope
from heho_app.services import keys
from heho_app.state.auth import login_redirect
from heho_app.state.common import form_text, user_or_none, when


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


class KeysState(rx.State):
    openrouter_last4: str = ""
    openrouter_updated: str = ""
    openrouter_error: str = ""
    openrouter_message: str = ""
    openrouter_loading: bool = False
    remove_open: bool = False
    access: list[AccessRow] = []
    loading: bool = False

    def _refresh(self, user_id: int) -> None:
        with session_scope() as session:
            stored = keys.openrouter_key_status(session, user_id=user_id)
            self.access = [_access_row(e) for e in keys.list_key_access(session, user_id=user_id)]
        self.openrouter_last4 = stored.last4 if stored else ""
        self.openrouter_updated = when(stored.updated_at) if stored else ""

    @rx.event
    def load(self):
        self.openrouter_error = self.openrouter_message = ""
        self.openrouter_loading = self.remove_open = False
        user_id = user_or_none(self)
        if user_id is None:
            return login_redirect(self)
        self.loading = True
        self._refresh(user_id)
        self.loading = False
        return None

    @rx.event(background=True)
    async def save_openrouter_key(self, form_data: dict[str, Any]):
        async with self:
            self.openrouter_error = self.openrouter_message = ""
            user_id = user_or_none(self)
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
            self._refresh(user_id)
            self.openrouter_message = "OpenRouter accepted the key; it is saved encrypted."
        return rx.set_value("openrouter_key", "")

    @rx.event
    def set_remove_open(self, value: bool):
        self.remove_open = value

    @rx.event
    def remove_openrouter_key(self):
        self.remove_open = False
        self.openrouter_error = self.openrouter_message = ""
        user_id = user_or_none(self)
        if user_id is None:
            return login_redirect(self)
        with session_scope() as session:
            keys.remove_openrouter_key(session, user_id=user_id)
        self._refresh(user_id)
        self.openrouter_message = "The OpenRouter key is deleted."
        return None
