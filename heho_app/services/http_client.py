"""Outgoing HTTP clients (OpenRouter, the user's Supabase): one way to make them.

Every HTTPS connection HeHo opens speaks TLS 1.3 or fails: HeHo promises TLS 1.3 in
transit. httpx builds a TLS context, reading the whole CA bundle, for every client it
creates: ~30 ms, paid on every chat turn before this module. The context is built
once and shared; each client still has its own connections and headers.
"""

import functools
import ssl

import httpx

MINIMUM_TLS = ssl.TLSVersion.TLSv1_3


@functools.cache
def tls_context() -> ssl.SSLContext:
    context = httpx.create_ssl_context()
    context.minimum_version = MINIMUM_TLS
    return context


def async_client(timeout: float | httpx.Timeout, **options) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, verify=tls_context(), **options)


def tls_problem(error: BaseException) -> str | None:
    """Why a connection failed at its TLS handshake, in words; None when it did not."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    if isinstance(cause, ssl.SSLCertVerificationError):
        return "its TLS certificate could not be verified"
    if "PROTOCOL_VERSION" in str(cause.reason) or "UNSUPPORTED_PROTOCOL" in str(cause.reason):
        return "it does not offer TLS 1.3, which HeHo requires"
    return f"the TLS handshake failed ({cause.reason})"
