"""What the service sends for the widget and the demo page, and what the widget never does."""

from __future__ import annotations

import fnmatch
import re
import tomllib

import httpx

from api.routes.widget import STATIC, WIDGET_DIR
from tests.conftest import REPO

WIDGET = (STATIC / "widget.js").read_text(encoding="utf-8")  # the classic-script loader
# The ES modules and the stylesheet that the loader brings in, by file name.
PARTS = {p.name: p.read_text(encoding="utf-8") for p in sorted(WIDGET_DIR.iterdir())}
MODULES = {name: text for name, text in PARTS.items() if name.endswith(".js")}
ALL_JS = "\n".join([WIDGET, *MODULES.values()])
# The loader's one dynamic import: the module entry next to its own script, nothing else.
LOADER_IMPORT = 'new URL("widget/main.js", (script && script.src) || location.href)'
DEMO_JS = (STATIC / "demo.js").read_text(encoding="utf-8")
DEMO_HTML = (STATIC / "index.html").read_text(encoding="utf-8")

# Ways to turn a string into markup or code, or to make the browser fetch something.
SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function|"
    r"createContextualFragment|DOMParser|srcdoc|createElementNS|setAttribute\(\s*[\"']on|"
    r"\.src\s*=|new\s+Image|\bimport\s*\("
)


def test_widget_and_demo_scripts_use_no_html_or_code_sinks() -> None:
    for name, source in (("demo.js", DEMO_JS), *(("widget/" + n, t) for n, t in MODULES.items())):
        assert SINKS.findall(source) == [], f"{name} uses an HTML/code sink"
    # The loader imports the module entry next to itself and nothing else.
    assert SINKS.findall(WIDGET) == ["import("], "widget.js uses an HTML/code sink"
    assert LOADER_IMPORT in WIDGET and WIDGET.count("import(entry.href)") == 1


def test_widget_calls_only_ask_the_coach_and_its_own_probe() -> None:
    # Only POST /v1/ask, GET /v1/passages/{id} (the side panel), POST /v1/feedback, and the
    # opaque reachability probe of its own script (net.js, shared by the chat and the coach)...
    paths = re.findall(r"fetch\(\s*`\$\{cfg\.api\}(/[^`]*)`", ALL_JS)
    assert sorted(paths) == [
        "/v1/ask",
        "/v1/feedback",
        "/v1/passages/${encodeURIComponent(id)}",
    ], paths
    assert MODULES["net.js"].count("fetch(`${api}/widget.js`") == 1
    # ...the study coach's and the history's endpoints, all through one function in
    # learner.js...
    assert MODULES["learner.js"].count("fetch(`${cfg.api}${path}`") == 1
    coach = re.findall(r"coachFetch\(\s*[`\"](/[^`\"]*)[`\"]", ALL_JS)
    assert set(coach) == {
        "/v1/quizzes",
        "/v1/quizzes/${encodeURIComponent(quizId)}/answers",
        "/v1/progress",
        "/v1/next",
        # Conversation history (history.js): the list, one conversation, its Markdown.
        "/v1/conversations?limit=1",
        "/v1/conversations?limit=${PAGE}${query}",
        "/v1/conversations/${encodeURIComponent(id)}",
        "/v1/conversations/${encodeURIComponent(conv.id)}/export?format=markdown",
    }, coach
    # ...plus its own stylesheet, next to the module that fetches it.
    assert re.findall(r"fetch\((\w+)", ALL_JS) == ["url"]
    assert 'new URL("widget.css", import.meta.url)' in MODULES["main.js"]
    assert ALL_JS.count("fetch(") == 6
    assert "/admin" not in ALL_JS


def test_widget_files_are_small_modules_and_ship_in_the_wheel() -> None:
    assert {"main.js", "markdown.js", "sse.js", "widget.css"} <= set(PARTS), sorted(PARTS)
    for name, text in {"widget.js": WIDGET, **PARTS}.items():
        assert len(text.splitlines()) <= 500, f"{name} is over 500 lines"
    for name, text in MODULES.items():
        # Relative imports of siblings only, each of which exists.
        for spec in re.findall(r'^import .* from "([^"]+)";$', text, re.M):
            assert spec.startswith("./") and spec[2:] in MODULES, (name, spec)
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["api"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            rel = path.relative_to(STATIC.parent).as_posix()
            assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not in the wheel"


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


def test_served_widget_parts(service) -> None:  # type: ignore[no-untyped-def]
    for name, text in PARTS.items():
        part = httpx.get(f"{service.url}/widget/{name}", headers={"Origin": "http://elsewhere"})
        assert part.status_code == 200, name
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        assert part.headers["content-type"].startswith(kind), (name, part.headers)
        assert part.headers["access-control-allow-origin"] == "*"  # modules load in CORS mode
        assert part.headers["cross-origin-resource-policy"] == "cross-origin"
        assert part.headers["x-content-type-options"] == "nosniff"
        assert part.headers["cache-control"] == "no-cache"  # revalidated: one version per page
        assert part.text == text
        again = httpx.get(
            f"{service.url}/widget/{name}", headers={"If-None-Match": part.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b"", name
        assert again.headers["etag"] == part.headers["etag"]

    for bad in ("nope.js", "main.mjs", "README.md", "..%2Fwidget.js", "%2E%2E%2Fapp.py", ".js"):
        missing = httpx.get(f"{service.url}/widget/{bad}")
        assert missing.status_code == 404, bad
    assert httpx.get(f"{service.url}/widget/../api/app.py").status_code == 404
