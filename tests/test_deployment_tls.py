"""docs/deploy.md's TLS front, exercised: deploy/nginx-tls.conf.template in the same
nginx as the HeHo site (deploy/nginx.conf.template), as the operator sets them up,
in front of the deployment of tests/fixtures/deployment.py, with a certificate made
for this run. TLS 1.3 is served, TLS 1.2 refused, plain HTTP redirected."""

import ssl
from collections.abc import Iterator

import httpx
import pytest

from heho_app.devtools.deployment import NGINX_TEMPLATE
from heho_app.devtools.nginx import Nginx, render_template
from heho_app.devtools.processes import free_port
from heho_app.settings import PROJECT_ROOT
from tests.conftest import TEST_ROOT
from tests.fixtures.tls import self_signed

TLS_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx-tls.conf.template"


@pytest.fixture(scope="module")
def tls_front(deployment) -> Iterator[dict]:
    root = TEST_ROOT / "nginx-tls"
    root.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = self_signed("heho-deploy-test")
    (root / "cert.pem").write_bytes(cert_pem)
    (root / "key.pem").write_bytes(key_pem)
    site_port, tls_port, http_port = free_port(), free_port(), free_port()
    site = render_template(
        NGINX_TEMPLATE.read_text(),
        LISTEN=f"127.0.0.1:{site_port}",
        UPSTREAM=f"127.0.0.1:{deployment.app_port}",
    )
    tls = render_template(
        TLS_TEMPLATE.read_text(),
        TLS_LISTEN=f"127.0.0.1:{tls_port}",
        HTTP_LISTEN=f"127.0.0.1:{http_port}",
        SERVER_NAME="127.0.0.1",
        CERTIFICATE=str(root / "cert.pem"),
        CERTIFICATE_KEY=str(root / "key.pem"),
        SITE=f"127.0.0.1:{site_port}",
    )
    nginx = Nginx(root / "nginx", f"{site}\n{tls}")
    nginx.start(f"http://127.0.0.1:{http_port}/")
    try:
        yield {"https": f"https://127.0.0.1:{tls_port}", "http": f"http://127.0.0.1:{http_port}",
               "cert": cert_pem.decode()}  # fmt: skip
    finally:
        nginx.stop()


def client_context(cert: str, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=cert)
    if maximum is not None:
        context.maximum_version = maximum
    return context


def test_pages_and_the_api_come_through_tls_1_3(tls_front):
    with httpx.Client(verify=client_context(tls_front["cert"])) as client:
        health = client.get(f"{tls_front['https']}/api/v1/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        page = client.get(f"{tls_front['https']}/login/")
        assert (
            page.status_code == 200
            and "frame-ancestors 'none'" in (page.headers["content-security-policy"])
        )


def test_tls_1_2_is_refused(tls_front):
    legacy = client_context(tls_front["cert"], maximum=ssl.TLSVersion.TLSv1_2)
    with httpx.Client(verify=legacy) as client, pytest.raises(httpx.ConnectError) as refused:
        client.get(f"{tls_front['https']}/api/v1/health")
    assert "PROTOCOL_VERSION" in str(refused.value), refused.value


def test_plain_http_is_sent_to_https(tls_front):
    response = httpx.get(f"{tls_front['http']}/login/?next=%2Fkeys")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/login/?next=%2Fkeys"
