"""Browser-side helpers shared by the widget tests (locators into the shadow root, waits)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

W = "study-assistant"  # the widget's host element; Playwright CSS pierces its open shadow root


def q(page: Any, selector: str) -> Any:
    """A locator inside the widget."""
    return page.locator(f"{W} {selector}")


def in_shadow(page: Any, body: str, arg: Any = None) -> Any:
    """Run ``body`` (JS statements using ``root`` and ``arg``) inside the widget's shadow root."""
    return page.locator(W).evaluate(
        f"(host, arg) => {{ const root = host.shadowRoot; {body} }}", arg
    )


def focused(page: Any) -> str | None:
    """The class of the focused element inside the widget, or None when focus is elsewhere."""
    return page.evaluate(
        """() => {
            const host = document.querySelector("study-assistant");
            if (!host || document.activeElement !== host) return null;
            const el = host.shadowRoot.activeElement;
            return el ? (el.className || el.tagName.toLowerCase()) : null;
        }"""
    )


def open_widget(page: Any) -> None:
    q(page, ".launcher").click()
    q(page, ".panel").wait_for(state="visible")


def ask(page: Any, question: str) -> None:
    box = q(page, "textarea")
    box.fill(question)
    box.press("Enter")


def wait_answer(page: Any, n: int, timeout: float = 20_000) -> Any:
    """Wait until the n-th answer (1-based) is complete; return its message locator."""
    q(page, ".msg.bot .meta").nth(n - 1).wait_for(timeout=timeout)
    return q(page, ".msg.bot").nth(n - 1)


def ask_requests(page: Any) -> list[dict[str, Any]]:
    """Collect the JSON bodies of every POST /v1/ask the page sends (``_request``: the request)."""
    seen: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/v1/ask"):
            body = json.loads(request.post_data or "{}")
            body["_request"] = request
            seen.append(body)

    page.on("request", record)
    return seen


def check_png(path: Path, width: int, height: int) -> dict[str, float]:
    """A real, non-blank screenshot: decodes, has the size asked for and varied pixels."""
    from PIL import Image, ImageStat

    with Image.open(path) as img:
        img.load()
        assert img.format == "PNG", f"{path} is {img.format}, not PNG"
        assert img.size == (width, height), f"{path} is {img.size}, expected {(width, height)}"
        rgb = img.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        stddev = ImageStat.Stat(rgb.convert("L")).stddev[0]
    assert len(colours) > 200, f"{path} has only {len(colours)} colours: blank?"
    assert stddev > 15, f"{path} pixel stddev is {stddev:.1f}: blank?"
    return {"colours": len(colours), "stddev": stddev}
