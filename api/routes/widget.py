"""The chat widget script (/widget.js) and the demo page (/) with a strict CSP."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(tags=["widget"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"

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
        headers={
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


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
