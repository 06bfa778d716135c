"""The widget as ES modules in Chromium: every part loads, and the Markdown renderer on its own.

widget.js is a classic-script loader that imports widget/main.js, which imports its
siblings and fetches widget/widget.css. markdown.js is the XSS boundary, so it is also
checked alone: imported by a bare page with no CSP and no Trusted Types to lean on.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from api.routes.widget import WIDGET_DIR
from tests.widget.conftest import StaticSite, embed_page
from tests.widget.helpers import q

pytestmark = pytest.mark.browser

PARTS = sorted(p.name for p in WIDGET_DIR.iterdir())


def record(page: Any) -> dict[str, list[Any]]:
    """Every response, failed request and console error of ``page`` from now on."""
    seen: dict[str, list[Any]] = {"responses": [], "failed": [], "console": []}
    page.on("response", lambda r: seen["responses"].append((r.url, r.status, r.headers)))
    page.on("requestfailed", lambda r: seen["failed"].append((r.url, r.failure)))
    page.on("console", lambda m: seen["console"].append(m) if m.type == "error" else None)
    return seen


def console_errors(seen: dict[str, list[Any]]) -> list[str]:
    """Console errors, less the browser's own favicon probe (the demo page has no icon)."""
    return [
        f"{m.text} ({m.location.get('url')})"
        for m in seen["console"]
        if not m.location.get("url", "").endswith("/favicon.ico")
    ]


def widget_parts(seen: dict[str, list[Any]], origin: str) -> dict[str, tuple[int, str]]:
    prefix = f"{origin}/widget/"
    return {
        url[len(prefix) :]: (status, headers.get("content-type", ""))
        for url, status, headers in seen["responses"]
        if url.startswith(prefix)
    }


@pytest.mark.parametrize("where", ["demo page", "second origin"])
def test_every_module_loads_without_errors(tabs, service, site, where) -> None:  # type: ignore[no-untyped-def]
    tab = tabs()
    page = tab.page
    seen = record(page)
    if where == "demo page":  # strict CSP with Trusted Types
        url = service.url + "/"
    else:  # another origin, whose CSP allows the service for scripts and calls only
        csp = f"default-src 'none'; script-src {service.url}; connect-src {service.url}"
        url = site.add(
            "/modules.html",
            embed_page(service.url, service.url),
            headers={"Content-Security-Policy": csp},
        )
    page.goto(url)
    expect(q(page, ".launcher")).to_be_visible()
    page.wait_for_function("() => window.StudyAssistant !== undefined")

    parts = widget_parts(seen, service.url)
    assert sorted(parts) == PARTS, "each module and the stylesheet load"
    for name, (status, kind) in parts.items():
        assert status == 200, (name, status)
        assert kind.startswith("text/css" if name.endswith(".css") else "text/javascript")
    assert [s for u, s, _ in seen["responses"] if s >= 400] == []
    assert seen["failed"] == []
    assert console_errors(seen) == [] and tab.errors == []
    assert page.evaluate("window.__csp") == []
    # The stylesheet is adopted by the shadow root, never added to the host document.
    sheets = page.evaluate(
        "() => [document.querySelector('study-assistant').shadowRoot.adoptedStyleSheets.length,"
        " document.adoptedStyleSheets.length]"
    )
    assert sheets == [1, 0], sheets


def test_a_missing_module_is_reported_and_nothing_is_mounted(tabs, site) -> None:  # type: ignore[no-untyped-def]
    # A loader whose modules are not there (a wrong deploy): a console error, no widget.
    loader = site.add(
        "/broken/widget.js",
        (WIDGET_DIR.parent / "widget.js").read_text(encoding="utf-8"),
        content_type="text/javascript",
    )
    origin = loader.removesuffix("/broken/widget.js")
    tab = tabs()
    page = tab.page
    with page.expect_console_message(lambda m: "could not be loaded" in m.text) as message:
        page.goto(site.add("/broken.html", embed_page(origin + "/broken", origin)))
    assert message.value.type == "error"
    assert f"{origin}/broken/widget/main.js" in message.value.text
    expect(page.locator("study-assistant")).to_have_count(0)
    assert tab.errors == []  # reported, not thrown


# Model text that tries to run code, load things or smuggle links; CANARY is replaced by
# the origin of a server that must never see a request.
CANARIES = (
    '<img src=x onerror="window.__pwned=1"> [x](javascript:window.__pwned=2) '
    '![i](CANARY/img.png) <svg onload="window.__pwned=3"></svg> '
    "<script>window.__pwned=4</script> [1]\n\n"
    '<img src="CANARY/raw.png"> <iframe src="CANARY/frame"></iframe> '
    '<a href="javascript:window.__pwned=5">a</a> [y](JaVaScRiPt:window.__pwned=6) '
    "[d](data:text/html,%3Cscript%3Ewindow.__pwned=7%3C/script%3E) "
    '<link rel=stylesheet href="CANARY/x.css"> <style>@import "CANARY/y.css";</style> '
    "[ok](https://example.org/guide) and `<b>code</b>`\n\n"
    '- item <video src="CANARY/v.mp4" onloadstart="window.__pwned=9"></video>\n'
    "- ![alt text](CANARY/list.png)\n\n"
    '# heading <img src="CANARY/h.png" onerror="window.__pwned=10">\n\n'
    '```html\n<img src="CANARY/code.png" onerror="window.__pwned=8">\n```\n'
)

RENDER = """async ([url, text]) => {
  const { renderMarkdown } = await import(url);
  const out = document.createElement("div");
  out.id = "out";
  out.append(renderMarkdown(text));  // no context: as a third party would call it
  document.body.append(out);
  await new Promise((r) => setTimeout(r, 300));  // time for any stray load or handler
  const bad = out.querySelectorAll(
    "img,svg,script,iframe,object,embed,style,link,video,audio,source,picture,math");
  const onAttrs = [...out.querySelectorAll("*")].flatMap(
    (el) => [...el.attributes].map((a) => a.name).filter((n) => n.startsWith("on")));
  return {
    bad: bad.length,
    onAttrs,
    hrefs: [...out.querySelectorAll("[href]")].map((a) => a.getAttribute("href")),
    text: out.textContent,
    code: [...out.querySelectorAll("code")].map((c) => c.textContent),
    items: out.querySelectorAll("li").length,
    pwned: window.__pwned ?? null,
  };
}"""


def test_markdown_module_alone_neutralises_the_canaries(tabs, service, site) -> None:  # type: ignore[no-untyped-def]
    canary = StaticSite("127.0.0.1")  # counts every request; nothing may ever reach it
    try:
        tab = tabs()
        page = tab.page
        seen = record(page)
        page.goto(site.add("/markdown.html", "<!doctype html><title>md</title><body></body>"))
        found = page.evaluate(
            RENDER,
            [f"{service.url}/widget/markdown.js", CANARIES.replace("CANARY", canary.origin)],
        )
        assert found["pwned"] is None
        assert canary.requests == []
        assert found["bad"] == 0 and found["onAttrs"] == []
        assert found["hrefs"] == ["https://example.org/guide"], found["hrefs"]
        assert '<img src=x onerror="window.__pwned=1">' in found["text"]
        assert "[image: i]" in found["text"] and "[image: alt text]" in found["text"]
        assert found["code"][0] == "<b>code</b>" and "onerror=" in found["code"][-1]
        assert found["items"] == 2
        # Imported on its own: the renderer and its DOM helpers, no UI module.
        assert sorted(widget_parts(seen, service.url)) == ["dom.js", "markdown.js"]
        assert console_errors(seen) == [] and tab.errors == []
    finally:
        canary.stop()
