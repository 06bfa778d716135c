"""Fixtures for the widget's browser tests: one Chromium per module, real servers on loopback.

Origins used (all loopback, all real sockets):
  service  http://127.0.0.1:P   the API (demo page at /, widget at /widget.js)
  site     http://127.0.0.2:S   a second origin that embeds the widget (in ASSISTANT_CORS_ORIGINS)
  stranger http://127.0.0.3:X   an origin that is NOT allowed
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, LiveServer, make_settings
from tests.fakes.openai_server import OpenAIServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
OUTPUT = REPO / "test-output"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class StaticSite:
    """A tiny HTTP server on one loopback address: fixed pages, every request recorded."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append(("GET", self.path))
                page = site.pages.get(self.path.split("?")[0])
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(page.body)

            do_HEAD = do_GET

            def do_POST(self) -> None:
                with site._lock:
                    site.requests.append(("POST", self.path))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def add(
        self,
        path: str,
        body: str,
        headers: dict[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> str:
        self.pages[path] = Page(body.encode(), content_type, headers or {})
        return self.origin + path

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, once per module (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium is required at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def site() -> Iterator[StaticSite]:
    """The second, allowed origin that embeds the widget."""
    s = StaticSite("127.0.0.2")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def stranger() -> Iterator[StaticSite]:
    """An origin that is not in ASSISTANT_CORS_ORIGINS."""
    s = StaticSite("127.0.0.3")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def llm() -> Iterator[OpenAIServer]:
    """The fake OpenAI-protocol model: tests queue the exact text the 'model' writes."""
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def service(corpus_index, embedder, tmp_path_factory, site) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The real service with the default extractive backend, allowing the second origin."""
    settings = make_settings(
        corpus_index, tmp_path_factory.mktemp("svc"), cors_origins=[site.origin]
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


@pytest.fixture(scope="session")
def llm_service(corpus_index, embedder, tmp_path_factory, llm, site) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The real service answering through the fake OpenAI-protocol model."""
    settings = make_settings(
        corpus_index,
        tmp_path_factory.mktemp("llm-svc"),
        llm_backend="openai",
        llm_model="fake-gpt",
        llm_base_url=llm.url,
        llm_api_key="sk-test",
        cors_origins=[site.origin],
        semantic_cache=False,  # every test question must reach the fake model
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


def embed_page(script_origin: str, api: str, *, extra_head: str = "", **data: str) -> str:
    """A host page that includes the widget with one tag, as a customer's site would."""
    attrs = "".join(f' data-{k.replace("_", "-")}="{v}"' for k, v in data.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host page</title>'
        f"{extra_head}"
        f'<script src="{script_origin}/widget.js" data-api="{api}"{attrs} defer></script>'
        "</head><body><main><h1>A course site</h1><p id='host-text'>Host content.</p>"
        "</main></body></html>"
    )


# A page-side record of CSP violations; CDP-injected, so the page's own CSP does not apply.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


@dataclass
class Tab:
    """A page in its own browser context, with its uncaught errors collected."""

    page: Any
    errors: list[str]


@pytest.fixture
def tabs(browser) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Factory: ``tabs(**context_options) -> Tab``; every context is closed after the test."""
    contexts: list[Any] = []

    def open_tab(**options: Any) -> Tab:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        tab = Tab(page, [])
        page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        page.add_init_script(WATCH_CSP)
        return tab

    yield open_tab
    for context in contexts:
        context.close()
