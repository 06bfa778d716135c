"""PDF → one section per page, headed by the outline (bookmark) path when the PDF has one."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from pypdf import PdfReader

from assistant.types import Section
from indexing.loaders.common import Parsed, SkippedSource, non_empty, tidy_blank_lines

logger = logging.getLogger(__name__)

_SPACE_RUN = re.compile(r"[ \t\f\v]+")


def parse_pdf(data: bytes) -> Parsed:
    """Sections of a PDF, headings ``(*outline path, "Page N")``; anchors ``page=N``.

    pypdf raises many exception types on damaged files (its own, ValueError, KeyError,
    struct errors...), so anything it raises while opening becomes "corrupt PDF".
    """
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkippedSource("encrypted PDF (needs a password)")
        pages = list(reader.pages)
    except SkippedSource:
        raise
    except Exception as exc:
        raise SkippedSource(f"corrupt PDF: {str(exc) or type(exc).__name__}") from exc
    outline = _outline_by_page(reader)
    sections: list[Section] = []
    failed = 0
    current: tuple[str, ...] = ()
    for number, page in enumerate(pages, start=1):
        current = outline.get(number - 1, current)
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # one bad content stream should not lose the other pages
            failed += 1
            logger.warning("pdf page %d unreadable: %s", number, exc)
            continue
        text = tidy_blank_lines(
            "\n".join(_SPACE_RUN.sub(" ", line).strip() for line in raw.split("\n"))
        )
        sections.append(
            Section(headings=(*current, f"Page {number}"), text=text, anchor=f"page={number}")
        )
    sections = non_empty(sections)
    if not sections:
        if failed:
            raise SkippedSource(f"corrupt PDF: none of its {failed} pages could be read")
        raise SkippedSource("empty: no extractable text (a scanned PDF?)")
    return Parsed(sections, _metadata_title(reader))


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # a broken info dictionary only costs us the title
        return None
    if not title:
        return None
    return " ".join(str(title).split()) or None


def _outline_by_page(reader: PdfReader) -> dict[int, tuple[str, ...]]:
    """0-based page index → outline path of the last bookmark starting on that page."""
    found: dict[int, tuple[str, ...]] = {}

    def visit(items: list[Any], path: tuple[str, ...]) -> None:
        last: tuple[str, ...] = path
        for item in items:
            if isinstance(item, list):
                visit(item, last)
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if not title:
                continue
            last = (*path, title)
            page = reader.get_destination_page_number(item)
            if page is not None and page >= 0:
                found[page] = last

    try:
        visit(list(reader.outline), ())
    except Exception as exc:  # outlines are optional decoration; a broken one is ignored
        logger.debug("pdf outline unreadable: %s", exc)
        return {}
    return found
