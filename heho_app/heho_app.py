"""HeHo: the Reflex app, its pages and the REST API mounted beside them."""

import reflex as rx

from heho_app.api.app import create_api
from heho_app.api.headers import security_headers
from heho_app.db import run_migrations
from heho_app.pages.landing import landing
from heho_app.settings import get_settings

settings = get_settings()


async def apply_migrations() -> None:
    """Bring HeHo's own database to the newest schema before serving anything."""
    run_migrations(settings.db_url)


app = rx.App(api_transformer=[create_api(), security_headers])
app.register_lifespan_task(apply_migrations)
app.add_page(landing, route="/", title="HeHo — an AI chatbot on your own database")
