"""UrlFetcher against a real HTTP server on loopback: SSRF guard, limits, cache, offline."""

from __future__ import annotations

import gzip
import json
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from assistant.errors import ConfigError
from indexing.fetch import FetchError, UrlFetcher
from tests.conftest import free_port

PAGE = b"<html><head><title>Page</title></head><body><main><h1>Hello</h1><p>World</p></main></body></html>"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"
ALLOW_LOOPBACK = ["127.0.0.1/32"]

# A throwaway self-signed certificate for DNS:localhost (valid to 2126), used only by the
# TLS test below; it protects nothing.
LOCALHOST_CERT = """\
-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUKBsRzrIS4Tucac5l1Tno0KzyKLQwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjA2MjgwMFoYDzIxMjYxMTAy
MDYyODAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATW5jpFwg2/zIgq+Bp+uKxDQauzJQn0L4zosE59hNNZKq406HbQHDg4
5HGNmokIAORz4MgGAw9vtw9w8SJitz3Bo2kwZzAdBgNVHQ4EFgQUhnSwXUMrh8Kv
05ycd/KoroBxXrQwHwYDVR0jBBgwFoAUhnSwXUMrh8Kv05ycd/KoroBxXrQwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhAKjz0aNQz0KoM5KPk1J2Zta3/SDFDpw2ezuxE++jl2fKAiEA2LLdIFh1
bDHlJwrCTniu0YOZtcLF+0x6O3R8Kiq58x8=
-----END CERTIFICATE-----
"""
LOCALHOST_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg21DRY1ynNCVfFZoI
VK6IGRV9dypzhLkOGEmPzEe6eLShRANCAATW5jpFwg2/zIgq+Bp+uKxDQauzJQn0
L4zosE59hNNZKq406HbQHDg45HGNmokIAORz4MgGAw9vtw9w8SJitz3B
-----END PRIVATE KEY-----
"""


@dataclass
class ServerState:
    port: int
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)  # ends /slow early
    slow_etag: bool = False  # makes /etag hang, to prove a timeout falls back to the cache
    in_flight: int = 0  # /pause requests being answered now
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    @property
    def state(self) -> ServerState:
        return self.server.state  # type: ignore[attr-defined]

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers and status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send(302, headers={"Location": location})

    def do_GET(self) -> None:
        route = self.path.split("?")[0]
        self.state.hits[route] += 1
        port = self.state.port
        if route == "/page":
            self.send(200, PAGE)
        elif route == "/echo-host":
            self.send(200, self.headers.get("Host", "").encode(), {"Content-Type": "text/plain"})
        elif route == "/to-page":
            self.redirect("/page")
        elif route == "/to-loopback2":
            self.redirect(f"http://127.0.0.2:{port}/page")
        elif route == "/to-metadata":
            self.redirect("http://169.254.169.254/latest/meta-data/")
        elif route == "/to-file":
            self.redirect("file:///etc/passwd")
        elif route == "/to-invalid":
            self.redirect("http://[::1")
        elif route == "/to-weird-host":
            self.redirect("http://%zz/")
        elif route == "/loop":
            self.redirect("/loop")
        elif route == "/big":
            self.send(200, b"x" * 200_000, {"Content-Type": "text/plain"})
        elif route == "/big-undeclared":  # no Content-Length: only streaming can stop it
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"y" * 10_000)
        elif route == "/gzip-bomb":
            self.send(200, gzip.compress(b"\0" * 2_000_000), {"Content-Encoding": "gzip"})
        elif route == "/etag":
            if self.state.slow_etag:
                self.state.release.wait(5)
            if self.headers.get("If-None-Match") == ETAG:
                self.state.hits["/etag 304"] += 1
                self.send(304, headers={"ETag": ETAG})
            else:
                self.send(200, PAGE, {"ETag": ETAG})
        elif route == "/modified":
            if self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                self.send(304)
            else:
                self.send(
                    200, b"dated", {"Last-Modified": LAST_MODIFIED, "Content-Type": "text/plain"}
                )
        elif route == "/slow":
            self.state.release.wait(5)
            self.send(200, b"late")
        elif route == "/error":
            self.send(500, b"boom")
        elif route == "/pause":  # answers after a pause; counts how many overlap
            with self.state.lock:
                self.state.in_flight += 1
                self.state.most_in_flight = max(self.state.most_in_flight, self.state.in_flight)
            self.state.release.wait(0.3)
            with self.state.lock:
                self.state.in_flight -= 1
            self.send(200, PAGE)
        else:
            self.send(404, b"no such route")


@dataclass
class Running:
    base: str
    state: ServerState
    httpd: ThreadingHTTPServer

    def stop(self) -> None:
        self.state.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def start_server(tls: ssl.SSLContext | None = None, port: int | None = None) -> Running:
    port = port or free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    httpd.state = ServerState(port=port)  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    scheme = "https" if tls else "http"
    return Running(f"{scheme}://127.0.0.1:{port}", httpd.state, httpd)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server()
    yield running
    running.stop()


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[UrlFetcher]:
    with UrlFetcher(tmp_path / "cache", allowed_networks=ALLOW_LOOPBACK, timeout_s=5) as f:
        yield f


def test_fetches_a_page_from_an_allowed_network(fetcher: UrlFetcher, server: Running) -> None:
    page = fetcher.fetch(f"{server.base}/page")
    assert page.body == PAGE
    assert page.status == 200
    assert page.content_type == "text/html; charset=utf-8"
    assert page.from_cache is False
    assert page.final_url == page.url == f"{server.base}/page"


def test_loopback_is_refused_by_default(tmp_path: Path, server: Running) -> None:
    before = server.state.hits["/page"]
    with UrlFetcher(tmp_path) as fetcher, pytest.raises(FetchError) as info:
        fetcher.fetch(f"{server.base}/page")
    assert "127.0.0.1" in info.value.reason
    assert "loopback" in info.value.reason
    assert server.state.hits["/page"] == before  # refused before any request was sent


def test_allow_private_permits_loopback(tmp_path: Path, server: Running) -> None:
    with UrlFetcher(tmp_path, allow_private=True) as fetcher:
        assert fetcher.fetch(f"{server.base}/page").body == PAGE


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/admin", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://127.0.0.2/", "loopback"),  # loopback but outside the allowed 127.0.0.1/32
        ("http://[::ffff:169.254.169.254]/", "link-local"),  # IPv4-mapped form
        ("http://2130706434/", "loopback"),  # 127.0.0.2 written as one decimal number
        ("http://224.0.0.1/", "multicast"),
        ("http://100.100.100.200/", "non-global"),  # carrier-grade NAT: Alibaba's metadata
    ],
)
def test_non_public_addresses_are_refused(fetcher: UrlFetcher, url: str, kind: str) -> None:
    with pytest.raises(FetchError) as info:
        fetcher.fetch(url)
    assert f"a {kind}" in info.value.reason
    assert "refused" in info.value.reason


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "data:text/plain,hi", "gopher://example.com/"],
)
def test_only_http_schemes_are_fetched(fetcher: UrlFetcher, url: str) -> None:
    with pytest.raises(FetchError, match="scheme not allowed") as info:
        fetcher.fetch(url)
    assert url.split(":")[0] in info.value.reason


def test_url_without_host_is_refused(fetcher: UrlFetcher) -> None:
    with pytest.raises(FetchError, match="no host"):
        fetcher.fetch("http:///nothing")


def test_redirect_within_allowed_network_is_followed(fetcher: UrlFetcher, server: Running) -> None:
    page = fetcher.fetch(f"{server.base}/to-page")
    assert page.final_url == f"{server.base}/page"
    assert page.url == f"{server.base}/to-page"
    assert page.body == PAGE


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("/to-loopback2", "127.0.0.2"),
        ("/to-metadata", "169.254.169.254"),
        ("/to-file", "scheme not allowed: 'file'"),
        ("/to-invalid", "Invalid URL in location header"),  # httpx checks it on receipt
        ("/to-weird-host", "cannot resolve host '%zz'"),
    ],
)
def test_redirect_to_a_disallowed_target_is_refused(
    fetcher: UrlFetcher, server: Running, route: str, expected: str
) -> None:
    with pytest.raises(FetchError) as info:
        fetcher.fetch(f"{server.base}{route}")
    assert expected in info.value.reason


def test_too_many_redirects(tmp_path: Path, server: Running) -> None:
    before = server.state.hits["/loop"]
    fetcher = UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK, max_redirects=3)
    with fetcher, pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
        fetcher.fetch(f"{server.base}/loop")
    assert server.state.hits["/loop"] - before == 4  # the first request and three hops


def test_connection_goes_to_the_checked_address_with_the_real_host_header(
    tmp_path: Path, server: Running
) -> None:
    # localhost is resolved and checked by us; httpx is handed the address, not the name.
    with UrlFetcher(tmp_path, allow_private=True) as fetcher:
        page = fetcher.fetch(f"http://localhost:{server.state.port}/echo-host")
    assert page.body.decode() == f"localhost:{server.state.port}"


@pytest.mark.parametrize("route", ["/big", "/big-undeclared", "/gzip-bomb"])
def test_size_limit(tmp_path: Path, server: Running, route: str) -> None:
    fetcher = UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK, max_bytes=100_000)
    with fetcher, pytest.raises(FetchError, match="response too large") as info:
        fetcher.fetch(f"{server.base}{route}")
    assert "100000" in info.value.reason
    assert not list(tmp_path.iterdir())  # nothing cached


def test_timeout(tmp_path: Path, server: Running) -> None:
    with UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK, timeout_s=0.3) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"timed out after 0.3s"):
            fetcher.fetch(f"{server.base}/slow")
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(("route", "status"), [("/missing", 404), ("/error", 500)])
def test_non_2xx_is_an_error_with_the_status(
    fetcher: UrlFetcher, server: Running, route: str, status: int
) -> None:
    with pytest.raises(FetchError, match=f"HTTP {status}") as info:
        fetcher.fetch(f"{server.base}{route}")
    assert info.value.status == status


def test_etag_revalidation_serves_the_cache_on_304(fetcher: UrlFetcher, server: Running) -> None:
    url = f"{server.base}/etag"
    before = Counter(server.state.hits)
    first = fetcher.fetch(url)
    second = fetcher.fetch(url)
    assert (first.from_cache, first.status) == (False, 200)
    assert (second.from_cache, second.status) == (True, 304)
    assert second.body == first.body == PAGE
    assert second.content_type == first.content_type
    assert server.state.hits["/etag"] - before["/etag"] == 2  # both asked the server
    assert server.state.hits["/etag 304"] - before["/etag 304"] == 1  # the second revalidated


def test_last_modified_revalidation(fetcher: UrlFetcher, server: Running) -> None:
    url = f"{server.base}/modified"
    assert fetcher.fetch(url).from_cache is False
    again = fetcher.fetch(url)
    assert again.from_cache is True
    assert again.body == b"dated"


def test_cache_is_json_and_body_without_pickle(fetcher: UrlFetcher, server: Running) -> None:
    fetcher.fetch(f"{server.base}/etag")
    files = sorted(p.suffix for p in fetcher.cache.root.iterdir())
    assert files == [".body", ".json"]
    meta = json.loads(next(fetcher.cache.root.glob("*.json")).read_text())
    assert meta["etag"] == ETAG
    assert meta["url"] == f"{server.base}/etag"


def test_damaged_cache_entry_is_ignored(fetcher: UrlFetcher, server: Running) -> None:
    url = f"{server.base}/etag"
    fetcher.fetch(url)
    body_file = next(fetcher.cache.root.glob("*.body"))
    body_file.write_bytes(b"tampered")
    page = fetcher.fetch(url)  # no validators sent: the entry fails its hash
    assert page.from_cache is False
    assert page.body == PAGE
    next(fetcher.cache.root.glob("*.json")).write_text("{not json")
    assert fetcher.fetch(url).from_cache is False


def test_offline_serves_the_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    running = start_server()
    url = f"{running.base}/etag"
    with UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK, timeout_s=2) as fetcher:
        fresh = fetcher.fetch(url)
        running.stop()
        with caplog.at_level(logging.WARNING, logger="indexing.fetch"):
            offline = fetcher.fetch(url)
        assert offline.from_cache is True
        assert offline.body == fresh.body
        assert offline.status == 200
        assert "serving the cached copy" in caplog.text
        with pytest.raises(FetchError, match="cannot connect"):
            fetcher.fetch(f"{running.base}/page")  # never cached


def test_timeout_with_a_cache_entry_serves_the_cache(tmp_path: Path) -> None:
    running = start_server()
    try:
        url = f"{running.base}/etag"
        with UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK, timeout_s=0.3) as fetcher:
            fetcher.fetch(url)
            running.state.slow_etag = True
            page = fetcher.fetch(url)
        assert page.from_cache is True
        assert page.body == PAGE
    finally:
        running.stop()


def test_bad_allowed_network_names_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'10\.0\.0\.0/33'"):
        UrlFetcher(tmp_path, allowed_networks=["10.0.0.0/33"])
    with pytest.raises(ConfigError, match="'not-a-network'"):
        UrlFetcher(tmp_path, allowed_networks=["not-a-network"])


def test_bad_limits_name_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timeout_s must be > 0, got -1"):
        UrlFetcher(tmp_path, timeout_s=-1)
    with pytest.raises(ConfigError, match="max_bytes must be > 0, got 0"):
        UrlFetcher(tmp_path, max_bytes=0)


def test_https_goes_to_the_checked_address_with_sni_and_a_verified_hostname(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(LOCALHOST_CERT)
    key.write_text(LOCALHOST_KEY)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    sni_seen: list[str | None] = []

    def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        sni_seen.append(name)

    server_tls.sni_callback = record_sni  # type: ignore[assignment]
    running = start_server(tls=server_tls)
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        transport = httpx.HTTPTransport(verify=trust)
        with UrlFetcher(tmp_path / "c", allow_private=True, transport=transport) as fetcher:
            page = fetcher.fetch(f"https://localhost:{running.state.port}/echo-host")
            assert page.body.decode() == f"localhost:{running.state.port}"
            assert sni_seen == ["localhost"]  # verified against the name, sent to the address
            with pytest.raises(FetchError, match="certificate"):
                fetcher.fetch(f"https://127.0.0.1:{running.state.port}/echo-host")
    finally:
        running.stop()


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.2]",  # IPv4-mapped
        "[2002:a9fe:a9fe::1]",  # 6to4 around 169.254.169.254
        "[64:ff9b::a9fe:a9fe]",  # NAT64 around 169.254.169.254
        "[fd00::1]",  # unique local
        "[ff02::1]",  # multicast
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused(fetcher: UrlFetcher, host: str) -> None:
    with pytest.raises(FetchError, match="refused"):
        fetcher.fetch(f"http://{host}/")


# --- freshness, remembered failures, fetching at once -----------------------------------
def test_a_fresh_copy_is_used_without_asking_the_network(tmp_path: Path, server: Running) -> None:
    url = f"{server.base}/etag?fresh"
    with UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK, refresh_s=3600) as fetcher:
        before = server.state.hits["/etag"]
        first = fetcher.fetch(url)
        again = fetcher.fetch(url)
    assert server.state.hits["/etag"] - before == 1  # the second never reached the server
    assert (again.from_cache, again.status, again.body) == (True, 200, first.body)
    # Past the window (refresh_s 0: always) the copy is revalidated as before.
    with UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK) as fetcher:
        assert fetcher.fetch(url).status == 304
    assert server.state.hits["/etag"] - before == 2


def test_a_network_failure_is_remembered_for_retry_s_then_tried_again(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    url = f"http://127.0.0.1:{port}/page"
    options = {"allowed_networks": ALLOW_LOOPBACK, "timeout_s": 2}
    with UrlFetcher(tmp_path, retry_s=600, **options) as fetcher:  # type: ignore[arg-type]
        with pytest.raises(FetchError, match="cannot connect"):
            fetcher.fetch(url)
        running = start_server(port=port)
        try:
            with pytest.raises(FetchError, match=r"cannot connect .*tried again after 600 s, "
                               r"or now with --refresh-urls"):  # fmt: skip
                fetcher.fetch(url)
            assert running.state.hits["/page"] == 0  # remembered: the network was not asked
            with UrlFetcher(tmp_path, retry_s=0, **options) as now:  # type: ignore[arg-type]
                assert now.fetch(url).body == PAGE  # --refresh-urls: tried at once
            assert fetcher.fetch(url).body == PAGE  # the failure is forgotten once it worked
            assert sorted(p.suffix for p in tmp_path.iterdir()) == [".body", ".json"]
        finally:
            running.stop()


def test_prefetch_fetches_at_once_and_fetch_hands_each_result_over(
    tmp_path: Path, server: Running
) -> None:
    urls = [f"{server.base}/pause?n={i}" for i in range(6)]
    missing = f"{server.base}/missing?prefetched"
    with UrlFetcher(tmp_path, allowed_networks=ALLOW_LOOPBACK) as fetcher:
        fetcher.prefetch([*urls, missing], workers=4)
        asked = server.state.hits["/pause"]
        assert asked == 6 and server.state.most_in_flight > 1  # several were in flight at once
        assert [fetcher.fetch(u).body for u in urls] == [PAGE] * 6
        assert server.state.hits["/pause"] == asked  # handed over, not fetched again
        with pytest.raises(FetchError, match="HTTP 404"):
            fetcher.fetch(missing)
        assert fetcher.fetch(urls[0]).status == 200  # once handed over, fetched anew
        assert server.state.hits["/pause"] == asked + 1
