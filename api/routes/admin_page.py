"""The operator's page (/admin): usage charts from the ledger, drawn in the browser.

The page itself holds no data and needs no key: it asks for the admin key, keeps it in
the tab's sessionStorage and sends it as a header to ``GET /v1/admin/usage``, which is
where the key is checked. A key never travels in a URL (history, logs, Referer).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from api.routes.widget import DEMO_CSP, STATIC

router = APIRouter(tags=["admin"], include_in_schema=False)
ADMIN_DIR = STATIC / "admin"
FILES = {"admin.js": "text/javascript", "chart.js": "text/javascript", "admin.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": DEMO_CSP,  # same origin only, no inline code, Trusted Types
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/admin", response_class=HTMLResponse)
def read_admin_page() -> HTMLResponse:
    """Usage charts per day: questions, tokens, cost, cache savings, latency."""
    return HTMLResponse((ADMIN_DIR / "index.html").read_text(encoding="utf-8"), headers=HEADERS)


@router.get("/admin/{name}")
def read_admin_file(name: str) -> FileResponse:
    """The page's script modules and stylesheet."""
    if name not in FILES:
        raise HTTPException(status_code=404, detail=f"no admin file {name!r}")
    return FileResponse(ADMIN_DIR / name, media_type=FILES[name], headers=HEADERS)
