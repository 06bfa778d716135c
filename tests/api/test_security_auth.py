"""Keys on every data route, failed-auth throttling, and client identity behind proxies
(issue 11, items 3 and 4), over real HTTP on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import HTTPConnection

from api.clientaddr import TrustedProxies
from tests.conftest import REPO, LiveServer, free_port, make_settings

KEY, WIDGET_KEY, ADMIN = "sec-client-key", "sec-widget-key", "sec-admin-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
OPEN_ROUTES = {"/health", "/ready", "/metrics"}  # probes: Kubernetes calls them without a key


def client_from(address: str, **kw: Any) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127.x works on loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30, **kw)


def example_body(path: str) -> dict[str, Any] | None:
    return {
        "/v1/ask": {"question": "What is ridge regression?"},
        "/v1/search": {"query": "ridge"},
        "/v1/chat/completions": {"messages": [{"role": "user", "content": "ridge?"}]},
    }.get(path)


@pytest.fixture(scope="module")
def keyed(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    settings = make_settings(
        corpus_index,
        tmp_path_factory.mktemp("keyed"),
        api_keys=[KEY],
        admin_key=ADMIN,
        auth_failures_per_minute=0,  # this module's first tests count 401s, not throttling
        rate_limit_per_minute=0,
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


# ------------------------------------------------------------------------------ item 3
def test_every_data_route_needs_a_key(keyed: LiveServer) -> None:
    spec = httpx.get(keyed.url + "/openapi.json").json()
    checked = []
    for path, operations in spec["paths"].items():
        if path in OPEN_ROUTES:
            continue
        for method in operations:
            r = httpx.request(method, keyed.url + path, json=example_body(path))
            assert r.status_code in (401, 403), (method, path, r.status_code, r.text[:200])
            assert set(r.json()) == {"error"} and r.json()["error"]["type"] in (
                "unauthorized",
                "forbidden",
            )
            checked.append(path)
    assert {"/v1/roadmap", "/v1/index", "/v1/ask", "/v1/models"} <= set(checked)
    for path in ("/v1/roadmap", "/v1/index"):
        assert httpx.get(keyed.url + path, headers=AUTH).status_code == 200
    for path in OPEN_ROUTES:
        assert httpx.get(keyed.url + path).status_code == 200


def test_roadmap_and_index_are_rate_limited(corpus_index, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(corpus_index, tmp_path, api_keys=[KEY], rate_limit_per_minute=2)
    with LiveServer(settings, embedder) as srv:
        for path in ("/v1/roadmap", "/v1/index"):
            codes = [httpx.get(srv.url + path, headers=AUTH).status_code for _ in range(3)]
            assert codes[-1] == 429, (path, codes)


def test_repeated_failed_authentication_is_slowed_down(
    corpus_index,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        corpus_index, tmp_path, api_keys=[KEY], admin_key=ADMIN, auth_failures_per_minute=3
    )
    with LiveServer(settings, embedder) as srv, client_from("127.0.0.3") as guesser:
        url = srv.url + "/v1/index"
        codes = [
            guesser.get(url, headers={"Authorization": f"Bearer guess-{i}"}).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 401]
        slowed = guesser.get(url, headers={"Authorization": "Bearer guess-4"})
        assert slowed.status_code == 429, slowed.text
        assert 1 <= int(slowed.headers["retry-after"]) <= 20  # one more attempt per 20 s
        assert slowed.json()["error"]["type"] == "rate_limited"
        assert "failed authentications" in slowed.json()["error"]["message"]
        # While slowed down, even the right key gets no verdict (a lucky guess looks the same),
        # and the admin endpoints count the same failures.
        assert guesser.get(url, headers=AUTH).status_code == 429
        admin = guesser.get(srv.url + "/v1/costs", headers={"Authorization": f"Bearer {ADMIN}"})
        assert admin.status_code == 429
        # Another client address is not affected.
        with client_from("127.0.0.4") as other:
            assert other.get(url, headers=AUTH).status_code == 200
            assert other.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401


# ------------------------------------------------------------------------------ item 4
SPOOFS = [
    {"X-Forwarded-For": "203.0.113.1"},
    {"X-Forwarded-For": "203.0.113.2"},
    {"Forwarded": "for=203.0.113.3"},
    {"X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.9"},
]


def test_forwarded_headers_from_loopback_are_not_trusted_by_default(
    corpus_index,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(corpus_index, tmp_path, rate_limit_per_minute=2)
    with LiveServer(settings, embedder) as srv:
        codes = [httpx.get(srv.url + "/v1/models", headers=h).status_code for h in SPOOFS]
        assert codes == [200, 200, 429, 429], "a forged header must not give a fresh bucket"


def test_trusted_proxy_forwarded_address_is_the_identity(
    corpus_index,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        corpus_index, tmp_path, rate_limit_per_minute=2, trusted_proxies=["127.0.0.1/32"]
    )
    with LiveServer(settings, embedder) as srv:
        url = srv.url + "/v1/models"

        def get(xff: str) -> int:
            return httpx.get(url, headers={"X-Forwarded-For": xff}).status_code

        assert [get("203.0.113.5") for _ in range(3)] == [200, 200, 429]
        assert get("203.0.113.6") == 200, "each client behind the proxy has its own bucket"
        # A client cannot escape by sending its own header: the proxy appends what it saw.
        assert get("192.0.2.77, 203.0.113.5") == 429
        # Without the header, the proxy itself is the client.
        assert [httpx.get(url).status_code for _ in range(3)] == [200, 200, 429]
    # A peer outside the trusted networks is never believed.
    with LiveServer(settings, embedder) as srv, client_from("127.0.0.5") as c:
        codes = [
            c.get(srv.url + "/v1/models", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            for i in range(3)
        ]
        assert [r.status_code for r in codes] == [200, 200, 429]


def test_a_public_widget_key_is_limited_per_key_and_address(
    corpus_index,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        corpus_index, tmp_path, api_keys=[KEY], public_keys=[WIDGET_KEY], rate_limit_per_minute=2
    )
    widget = {"X-API-Key": WIDGET_KEY}
    with LiveServer(settings, embedder) as srv:
        url = srv.url + "/v1/models"
        with client_from("127.0.0.6") as a, client_from("127.0.0.7") as b:
            assert [a.get(url, headers=widget).status_code for _ in range(3)] == [200, 200, 429]
            assert b.get(url, headers=widget).status_code == 200, "another visitor"
            # A private key is one client wherever it calls from.
            assert [a.get(url, headers=AUTH).status_code for _ in range(2)] == [200, 200]
            assert b.get(url, headers=AUTH).status_code == 429


def test_assistant_serve_does_not_trust_loopback_forwarded_headers(
    corpus_index: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_INDEX_DIR": str(corpus_index),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "2",
        "ASSISTANT_RELOAD_INTERVAL_S": "0",
        "ASSISTANT_REDIS_URL": "",
        "FORWARDED_ALLOW_IPS": "*",  # uvicorn's own switch must not matter either
    }
    env.pop("ASSISTANT_API_KEYS", None)
    script = Path(sys.executable).with_name("assistant")
    proc = subprocess.Popen(
        [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "assistant serve did not start"
            time.sleep(0.2)
        codes = [httpx.get(url + "/v1/models", headers=h).status_code for h in SPOOFS[:3]]
        assert codes == [200, 200, 429]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ------------------------------------------------------------------------------ parsing
def conn(peer: str, headers: dict[str, str]) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "client": (peer, 1234), "headers": raw})


@pytest.mark.parametrize(
    ("header", "peer", "value", "expected"),
    [
        ("x-forwarded-for", "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("x-forwarded-for", "10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),
        ("x-forwarded-for", "10.0.0.2", "1.1.1.1, 198.51.100.1", "198.51.100.1"),
        ("x-forwarded-for", "10.0.0.2", "garbage, 198.51.100.1", "198.51.100.1"),
        ("x-forwarded-for", "10.0.0.2", "198.51.100.1, garbage", "10.0.0.2"),
        ("x-forwarded-for", "10.0.0.2", "198.51.100.1:443", "198.51.100.1"),
        ("x-forwarded-for", "192.0.2.9", "198.51.100.1", "192.0.2.9"),  # untrusted peer
        ("forwarded", "10.0.0.2", 'for="[2001:db8::1]:4711";proto=https', "2001:db8::1"),
        ("forwarded", "10.0.0.2", "for=1.1.1.1, for=198.51.100.2;by=10.0.0.2", "198.51.100.2"),
        ("forwarded", "10.0.0.2", "for=unknown", "10.0.0.2"),
    ],
)
def test_client_address_parsing(header: str, peer: str, value: str, expected: str) -> None:
    proxies = TrustedProxies(["10.0.0.0/8"], header)  # type: ignore[arg-type]
    assert proxies.client_address(conn(peer, {header: value})) == expected


def test_only_the_configured_header_is_read() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"], "forwarded")
    assert proxies.client_address(conn("10.0.0.2", {"x-forwarded-for": "1.2.3.4"})) == "10.0.0.2"
    assert TrustedProxies([]).client_address(conn("10.0.0.2", {"x-forwarded-for": "1.2.3.4"})) == (
        "10.0.0.2"
    )


def test_bad_trusted_proxy_setting_is_refused() -> None:
    from pydantic import ValidationError

    from assistant.settings import Settings

    with pytest.raises(ValidationError, match="not a CIDR network"):
        Settings(trusted_proxies="10.0.0.0/8,not-a-net")  # type: ignore[arg-type]
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]  # type: ignore[arg-type]
