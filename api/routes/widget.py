"""The chat widget (/widget.js, its modules under /widget/) and the demo page (/) with a strict CSP."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(tags=["widget"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
WIDGET_DIR = STATIC / "widget"
WIDGET_PART = re.compile(r"[a-z][a-z0-9-]*\.(js|css)")
MEDIA_TYPES = {"js": "text/javascript", "css": "text/css"}

# Any page may embed the widget: its loader, modules (imported in CORS mode) and stylesheet
# (fetched) are readable from every origin and never sniffed into another type.
SHARED = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
}

# Strict: scripts only from this origin (no inline, no eval); the widget's styles are
# constructable stylesheets adopted by its shadow root, which CSP does not treat as inline
# styles, so style-src needs no 'unsafe-inline' either. Trusted Types make any HTML sink
# (innerHTML and friends) throw, so the page cannot render model text as HTML by mistake.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; object-src 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)


@router.get("/widget.js")
def read_widget() -> FileResponse:
    """The embeddable widget: one script, no build step."""
    return FileResponse(
        STATIC / "widget.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300", **SHARED},
    )


@router.get("/widget/{name}")
def read_widget_part(name: str, request: Request) -> Response:
    """One of the widget's ES modules or its stylesheet, as /widget.js and main.js import them.

    Revalidated on every page load (no-cache, answered 304 by ETag when unchanged), so the
    modules one page imports are always of one version, also right after a deploy.
    """
    match = WIDGET_PART.fullmatch(name)
    path = WIDGET_DIR / name
    if match is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no widget file {name!r}")
    response = FileResponse(
        path,
        media_type=MEDIA_TYPES[match.group(1)],
        stat_result=path.stat(),
        headers={"Cache-Control": "no-cache", **SHARED},
    )
    etag = response.headers["etag"]
    if request.headers.get("if-none-match") == etag:
        return Response(
            status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache", **SHARED}
        )
    return response


@router.get("/demo.css")
def read_demo_css() -> FileResponse:
    """The demo page's stylesheet."""
    return FileResponse(STATIC / "demo.css", media_type="text/css")


@router.get("/demo.js")
def read_demo_js() -> FileResponse:
    """The demo page's script (roadmap phases, example questions)."""
    return FileResponse(STATIC / "demo.js", media_type="text/javascript")


@router.get("/", response_class=HTMLResponse)
def read_demo() -> HTMLResponse:
    """Demo page: the widget, the roadmap phases and example questions."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": DEMO_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
