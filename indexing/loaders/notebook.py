"""Jupyter notebooks → sections: Markdown cells split on headings, code cells fenced, outputs dropped."""

from __future__ import annotations

import re
from typing import Any

import nbformat

from indexing.loaders.common import Parsed, SkippedSource
from indexing.loaders.markdown import heading_text, parse_markdown

_ANY_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def parse_notebook(text: str) -> Parsed:
    """Sections of a notebook; the title is its first heading of any level."""
    try:
        # as_version=4 upgrades v3 notebooks. nbformat only logs most schema errors, so a
        # malformed cell or metadata surfaces below as a type or attribute error.
        nb = nbformat.reads(text, as_version=4)
        markdown, first_heading = _as_markdown(nb)
    except Exception as exc:  # nbformat raises JSON, validation and key errors alike
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SkippedSource(f"invalid notebook: {detail}") from exc
    parsed = parse_markdown(markdown)
    if first_heading is not None:
        first_heading = heading_text(first_heading) or None
    return Parsed(parsed.sections, first_heading or parsed.title)


def _as_markdown(nb: Any) -> tuple[str, str | None]:
    """The notebook as one Markdown text (code cells fenced), and its first heading."""
    language = _language(nb)
    parts: list[str] = []
    first_heading: str | None = None
    for cell in nb.cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            parts.append(source)
            if first_heading is None:
                match = _ANY_HEADING.search(_without_fences(source))
                first_heading = match.group(1) if match else None
        elif cell.get("cell_type") == "code":
            longest = max((len(m) for m in re.findall(r"`+", source)), default=0)
            fence = "`" * max(3, longest + 1)
            parts.append(f"{fence}{language}\n{source.rstrip()}\n{fence}")
        # raw cells hold conversion directives (LaTeX, reST), not prose: dropped
    return "\n\n".join(parts), first_heading


def _language(nb: Any) -> str:
    metadata = nb.get("metadata", {})
    name = (metadata.get("language_info") or {}).get("name") or (
        metadata.get("kernelspec") or {}
    ).get("language")
    return str(name).lower() if name else "python"


def _without_fences(markdown: str) -> str:
    return re.sub(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1", "", markdown, flags=re.MULTILINE | re.DOTALL)
