"""Markdown → heading sections, parsed as CommonMark by markdown-it-py.

Headings (ATX ``#`` and setext ``===``/``---``, levels 1 to 4, outside quotes and lists)
start sections; a section's text is the source lines between headings, unchanged, so code
fences, tables and lists read as written. YAML front matter (Jekyll, Hugo) is metadata:
its ``title`` and ``tags`` go to the Document, never into the text. HTML comments and
``<br>`` are removed from the prose.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from assistant.types import Section
from indexing.loaders.common import Parsed, github_slug, non_empty

logger = logging.getLogger(__name__)

SPLIT_LEVELS = 4  # h1 to h4 start sections; h5 and h6 stay in the text as written

_MD = MarkdownIt("commonmark").enable("table").use(front_matter_plugin)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # an unclosed comment runs to the end
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_CODE = frozenset({"fence", "code_block"})
# Front-matter values read as text; anything else (a mapping, an alias-built nest) is ignored.
_SCALARS = (str, int, float)
_EMPTY_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]*$")  # e.g. "# " swallowed by an HTML block


def heading_text(raw: str) -> str:
    """The visible text of one line of heading markup: links, emphasis, code ticks, tags gone."""
    tokens = _MD.parseInline(raw.strip())
    return _plain(tokens[0].children or []) if tokens else ""


def parse_markdown(text: str) -> Parsed:
    """Sections of a Markdown text; title: front matter ``title``, else the first H1."""
    lines = text.split("\n")
    kinds = ["text"] * len(lines)  # per source line: text | code | front | heading
    headings: dict[int, tuple[int, int, str]] = {}  # first line → (level, end line, text)
    front: dict[str, Any] = {}
    tokens = _MD.parse(text)
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type in _CODE:
            kinds[start:end] = ["code"] * (end - start)
        elif token.type == "front_matter":
            kinds[start:end] = ["front"] * (end - start)
            front = _front_matter(token.content)
        elif token.type == "heading_open" and token.level == 0:
            level = int(token.tag[1])
            if level <= SPLIT_LEVELS:
                kinds[start:end] = ["heading"] * (end - start)
                headings[start] = (level, end, _plain(tokens[i + 1].children or []))

    sections: list[Section] = []
    stack: list[tuple[int, str, str]] = []  # (level, heading, slug), outermost first
    seen: dict[str, int] = {}
    body: list[tuple[bool, str]] = []  # (is code, source line)
    first_h1: str | None = None

    def flush() -> None:
        text = _tidy(body)
        if text:
            anchor = stack[-1][2] if stack else None
            sections.append(
                Section(headings=tuple(h for _, h, _ in stack), text=text, anchor=anchor)
            )
        body.clear()

    n = 0
    while n < len(lines):
        if n in headings:
            level, end, title = headings[n]
            n = end
            if not title:
                continue  # an empty "##" carries nothing
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title, github_slug(title, seen)))
            if level == 1 and first_h1 is None:
                first_h1 = title
            continue
        if kinds[n] != "front":
            body.append((kinds[n] == "code", lines[n]))
        n += 1
    flush()
    declared = front.get("title")
    front_title = str(declared).strip() or None if isinstance(declared, _SCALARS) else None
    return Parsed(non_empty(sections), front_title or first_h1, _tags(front.get("tags")))


def _plain(children: Sequence[Token]) -> str:
    """The visible text of inline tokens, on one line."""
    out: list[str] = []
    for token in children:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type == "image":
            out.append(_plain(token.children or []))
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
        # html_inline is dropped; link and emphasis markers carry no text
    return " ".join("".join(out).split())


def _tidy(body: list[tuple[bool, str]]) -> str:
    """Section text: comments and ``<br>`` removed from prose, blank runs folded, code untouched.

    Each run of prose lines is cleaned as one string: a comment may span lines.
    """
    out: list[str] = []
    prose: list[str] = []

    def add_prose() -> None:
        cleaned = _BR.sub(" ", _COMMENT.sub("", "\n".join(prose)))
        for line in cleaned.split("\n"):
            if line.strip() and not _EMPTY_HEADING.match(line):
                out.append(line)
            elif out and out[-1].strip():
                out.append("")  # one blank line between paragraphs
        prose.clear()

    for is_code, line in body:
        if not is_code:
            prose.append(line)
        else:
            if prose:
                add_prose()
            out.append(line)
    if prose:
        add_prose()
    while out and not out[-1].strip():
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out).rstrip()


def _front_matter(content: str) -> dict[str, Any]:
    """The YAML front matter as a mapping; unreadable YAML is logged and read as empty."""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        logger.warning("front matter is not valid YAML, ignored: %s", str(exc).splitlines()[0])
        return {}
    return data if isinstance(data, dict) else {}


def _tags(value: Any) -> tuple[str, ...]:
    """Front-matter ``tags``: a YAML list, or one comma-separated string."""
    if isinstance(value, _SCALARS):
        items: list[Any] = str(value).split(",")
    elif isinstance(value, list):
        items = [i for i in value if isinstance(i, _SCALARS)]
    else:
        return ()
    return tuple(dict.fromkeys(t for t in (str(i).strip() for i in items) if t))
