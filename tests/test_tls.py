"""HeHo promises TLS 1.3 in transit: its outgoing HTTPS (the user's Supabase project,
OpenRouter) refuses anything older, and says why. Real TLS servers on loopback with
a certificate made here."""

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from heho_app.services import openrouter
from heho_app.services.http_client import tls_context
from heho_app.services.supabase_link import LinkError, discover_schema
from tests.conftest import TEST_ROOT
from tests.fixtures.tls import self_signed

OPENAPI = {"swagger": "2.0", "paths": {"/orders": {}}, "definitions": {"orders": {
    "properties": {"id": {"type": "integer", "format": "bigint"}}}}}  # fmt: skip
MODELS = {"data": [{"id": "x/tls", "name": "TLS", "supported_parameters": []}]}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(OPENAPI if self.path.startswith("/rest/v1") else MODELS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def serve_tls(cert_pem: bytes, key_pem: bytes, maximum: ssl.TLSVersion, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = maximum
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"https://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """`tls13` and `tls12` (only up to TLS 1.2) with a certificate HeHo is told to
    trust; `untrusted` speaks TLS 1.3 with one it is not."""
    trusted_cert, trusted_key = self_signed("heho-test-trusted")
    tls_context().load_verify_locations(cadata=trusted_cert.decode())
    root = TEST_ROOT / "tls"
    yield {
        "tls13": serve_tls(trusted_cert, trusted_key, ssl.TLSVersion.TLSv1_3, root / "13"),
        "tls12": serve_tls(trusted_cert, trusted_key, ssl.TLSVersion.TLSv1_2, root / "12"),
        "untrusted": serve_tls(
            *self_signed("heho-test-untrusted"), ssl.TLSVersion.TLSv1_3, root / "untrusted"
        ),
    }


async def test_a_project_served_over_tls_1_3_is_read(servers):
    schema = await discover_schema(servers["tls13"], "service-key")
    assert schema.table_names() == ["orders"]


async def test_a_project_without_tls_1_3_is_refused_with_the_reason(servers):
    with pytest.raises(LinkError) as refused:
        await discover_schema(servers["tls12"], "service-key")
    assert refused.value.message == (
        "Could not connect securely to 127.0.0.1: it does not offer TLS 1.3, which HeHo requires."
    )


async def test_a_certificate_nobody_vouches_for_is_refused(servers):
    with pytest.raises(LinkError) as refused:
        await discover_schema(servers["untrusted"], "service-key")
    assert "its TLS certificate could not be verified" in refused.value.message


async def test_openrouter_without_tls_1_3_is_refused_with_the_reason(servers):
    openrouter.clear_model_cache()
    models = await openrouter.list_models(base_url=servers["tls13"], refresh=True)
    assert [m.id for m in models] == ["x/tls"]
    with pytest.raises(openrouter.OpenRouterError) as refused:
        await openrouter.list_models(base_url=servers["tls12"], refresh=True)
    assert "does not offer TLS 1.3, which HeHo requires" in refused.value.info.message
    openrouter.clear_model_cache()
