"""Outgoing HTTP clients (OpenRouter, the user's Supabase): one way to make them.

httpx builds a TLS context, reading the whole CA bundle, for every client it
creates: ~30 ms, paid on every chat turn before this module. The context is built
once and shared; each client still has its own connections and headers.
"""

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def async_client(timeout: float | httpx.Timeout, **options) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, verify=tls_context(), **options)
