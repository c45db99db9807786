"""Reflex configuration; every value HeHo reads comes from heho_app.settings."""

import reflex as rx

from heho_app.security import origin_of
from heho_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="heho_app",
    db_url=settings.db_url,
    redis_url=settings.redis_url,
    # The /_event websocket (and the CORS headers of every HTTP route) accept only
    # the app's own origin: another site cannot drive a signed-in user's session.
    cors_allowed_origins=[origin_of(settings.public_url)],
    trusted_proxy_hops=settings.trusted_proxy_hops,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="violet", radius="large")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
