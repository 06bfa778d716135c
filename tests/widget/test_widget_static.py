"""What the service sends for the widget and the demo page, and what widget.js never does."""

from __future__ import annotations

import re

import httpx

from api.routes.widget import STATIC

WIDGET = (STATIC / "widget.js").read_text(encoding="utf-8")
DEMO_JS = (STATIC / "demo.js").read_text(encoding="utf-8")
DEMO_HTML = (STATIC / "index.html").read_text(encoding="utf-8")

# Ways to turn a string into markup or code, or to make the browser fetch something.
SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function|"
    r"createContextualFragment|DOMParser|srcdoc|createElementNS|setAttribute\(\s*[\"']on|"
    r"\.src\s*=|new\s+Image|\bimport\s*\("
)


def test_widget_and_demo_scripts_use_no_html_or_code_sinks() -> None:
    for name, source in (("widget.js", WIDGET), ("demo.js", DEMO_JS)):
        assert SINKS.findall(source) == [], f"{name} uses an HTML/code sink"


def test_widget_calls_only_ask_and_its_own_probe() -> None:
    # Only POST /v1/ask, and the opaque reachability probe of its own script.
    paths = re.findall(r"fetch\(\s*`\$\{cfg\.api\}(/[^`]*)`", WIDGET)
    assert sorted(paths) == ["/v1/ask", "/widget.js"], paths
    assert WIDGET.count("fetch(") == 2
    assert "/admin" not in WIDGET


def test_demo_page_has_no_inline_script_style_or_handlers() -> None:
    scripts = re.findall(r"<script\b[^>]*>", DEMO_HTML)
    assert scripts and all(" src=" in tag for tag in scripts), scripts
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", DEMO_HTML) is None, "inline script"
    assert re.search(r"<style\b|\sstyle=|\son[a-z]+=", DEMO_HTML) is None
    assert "data-key" not in DEMO_HTML.split("<body>")[0], "no key of any kind on the demo page"


def test_served_headers(service) -> None:  # type: ignore[no-untyped-def]
    widget = httpx.get(service.url + "/widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert widget.headers["access-control-allow-origin"] == "*"
    assert widget.headers["cross-origin-resource-policy"] == "cross-origin"
    assert widget.headers["x-content-type-options"] == "nosniff"
    assert widget.text == WIDGET

    page = httpx.get(service.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = dict(
        [*d.split(" ", 1), ""][:2] for d in page.headers["content-security-policy"].split("; ")
    )
    assert policy["script-src"] == "'self'"
    assert "unsafe" not in policy["style-src"]
    assert policy["default-src"] == policy["object-src"] == policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["require-trusted-types-for"] == "'script'"
    assert page.headers["x-content-type-options"] == "nosniff"

    assert httpx.get(service.url + "/demo.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(service.url + "/demo.css").headers["content-type"].startswith("text/css")
