"""The /admin page in Chromium: asks for the key, keeps it out of URLs, draws the usage charts.

The service is real (SQLite ledger); its rows come from real /v1/ask requests and from
its own ledger for an earlier day, so the charts have known points to draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from assistant.ledger import QueryCost
from tests.conftest import LiveServer, make_settings

pytestmark = pytest.mark.browser

ADMIN = "page-admin-key"
# chart id -> series keys it draws (api/static/admin/admin.js CHARTS)
CHARTS = {
    "questions": ["queries", "cache_hits"],
    "tokens": ["prompt_tokens", "completion_tokens", "embed_tokens"],
    "cost": ["cost_usd", "saved_usd"],
    "latency": ["p50_total_ms", "p95_total_ms"],
}


@pytest.fixture(scope="module")
def admin_service(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    settings = make_settings(
        corpus_index, tmp_path_factory.mktemp("admin-page"), admin_key=ADMIN,
        auth_failures_per_minute=0,
    )  # fmt: skip
    with LiveServer(settings, embedder) as srv:
        for q in ("What is overfitting?", "What is overfitting?"):
            assert httpx.post(srv.url + "/v1/ask", json={"question": q}, timeout=60).is_success
        earlier = datetime.combine(datetime.now(UTC).date() - timedelta(days=2), time(9), UTC)
        for i, ms in enumerate((100.0, 200.0, 300.0)):
            srv.assistant.ledger.record(
                QueryCost(ts=earlier, request_id=f"page-{i}", key_id="k", backend="openai",
                          model="m", endpoint="ask", prompt_tokens=50, completion_tokens=10,
                          cost_usd=0.01, total_ms=ms)
            )  # fmt: skip
        yield srv


def points(page: Any, chart: str, series: str, day: str = "") -> Any:
    at = f'[data-day="{day}"]' if day else ""
    return page.locator(f'[data-chart="{chart}"] [data-series="{series}"] circle.point{at}')


def test_the_page_asks_for_the_key_and_draws_every_chart(tabs, admin_service) -> None:  # type: ignore[no-untyped-def]
    tab = tabs()
    page = tab.page
    sent: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: sent.append({"url": r.url, **r.headers}) if "/v1/admin/usage" in r.url else None,
    )
    page.goto(admin_service.url + "/admin")
    expect(page.locator("#key-form")).to_be_visible()
    assert page.locator("[data-chart]").count() == 0

    page.fill("#key", "not-the-key")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("Not accepted")
    expect(page.locator("#key-form")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0

    page.fill("#key", ADMIN)
    page.click("#key-form button[type=submit]")
    expect(page.locator("[data-chart]")).to_have_count(len(CHARTS))
    expect(page.locator("#key-form")).to_be_hidden()
    for chart, keys in CHARTS.items():
        for key in keys:
            expect(points(page, chart, key)).to_have_count(30)  # one per day, the default
    # The earlier day's three questions, drawn at its point; today's two.
    day = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    assert points(page, "questions", "queries", day).get_attribute("data-value") == "3"
    today = points(page, "questions", "queries").last
    assert today.get_attribute("data-day") == datetime.now(UTC).date().isoformat()
    assert today.get_attribute("data-value") == "2"
    assert points(page, "latency", "p95_total_ms", day).get_attribute("data-value") == "300"
    expect(page.locator('[data-total="questions"]')).to_have_text("5")

    # The key went as a header, never in a URL, and stays in this tab's sessionStorage only.
    assert sent and all(ADMIN not in s["url"] for s in sent)
    assert sent[-1]["authorization"] == f"Bearer {ADMIN}"
    assert ADMIN not in page.url
    assert page.evaluate("Object.values(sessionStorage)") == [ADMIN]
    assert page.evaluate("localStorage.length") == 0

    page.select_option("#days", "7")
    for chart, keys in CHARTS.items():
        expect(points(page, chart, keys[0])).to_have_count(7)
    page.reload()  # the tab remembers the key: charts again without asking
    expect(points(page, "cost", "cost_usd")).to_have_count(30)
    page.click("#forget")
    expect(page.locator("#key-form")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    assert page.locator("[data-chart]").count() == 0
    assert page.evaluate("window.__csp") == [] and tab.errors == []


def test_the_page_is_served_with_a_strict_policy_and_no_data(admin_service) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(admin_service.url + "/admin")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "require-trusted-types-for 'script'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "https://" not in r.text and "http://" not in r.text  # nothing from elsewhere
    for name in ("admin.js", "chart.js", "admin.css"):
        assert httpx.get(f"{admin_service.url}/admin/{name}").status_code == 200
    for name in ("index.html", "..%2Fwidget.js", "nope.js"):
        assert httpx.get(f"{admin_service.url}/admin/{name}").status_code == 404
