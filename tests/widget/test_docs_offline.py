"""/docs (Swagger UI) renders in Chromium with nothing fetched beyond loopback.

Its script and styles come from the service itself (the fastapi-offline package ships
them), so the API reference works on an offline machine and behind a strict firewall.
/redoc is off: ReDoc always loads its logo from cdn.redoc.ly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def off_loopback(page: Any) -> list[str]:
    """Every network request of ``page`` that would leave loopback (aborted, and recorded)."""
    left: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and (
            urlsplit(url).hostname not in LOOPBACK
        ):
            left.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", guard)
    return left


def test_swagger_ui_renders_offline(tabs, service) -> None:  # type: ignore[no-untyped-def]
    html = httpx.get(service.url + "/docs").text
    assert "cdn." not in html and "https://" not in html, "no asset from a CDN"
    tab = tabs()
    page = tab.page
    left = off_loopback(page)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(service.url + "/docs")

    ask = page.locator('.opblock-summary-path[data-path="/v1/ask"]')
    expect(ask).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/v1/search")).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("Study Assistant")
    # Opening the operation shows its request body schema: the UI works, not just paints.
    ask.click()
    expect(page.locator(".opblock.is-open .opblock-section-request-body")).to_be_visible()
    assert left == [] and failed == [], (left, failed)
    assert tab.errors == []


def test_redoc_is_off_rather_than_half_online(service) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(service.url + "/redoc").status_code == 404
    assert httpx.get(service.url + "/openapi.json").status_code == 200
