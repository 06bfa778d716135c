"""Markdown → heading sections: split on ATX headings # to ####, never inside fenced code."""

from __future__ import annotations

import re

from assistant.types import Section
from indexing.loaders.common import Parsed, github_slug, non_empty

SPLIT_LEVELS = 4  # "#" to "####" start sections; "#####" and deeper stay in the text

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)

# Inline markup stripped from heading text, so headings and slugs read as GitHub renders them.
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image → alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # [text](url)
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"<[^>]+>"), ""),  # inline HTML tags
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"(\*{1,3})(\S(?:.*?\S)?)\1"), r"\2"),
    (re.compile(r"(?<!\w)(_{1,3})(\S(?:.*?\S)?)\1(?!\w)"), r"\2"),
]


def heading_text(raw: str) -> str:
    """The visible text of a heading: links, emphasis, code ticks and tags removed."""
    text = raw
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def parse_markdown(text: str) -> Parsed:
    """Sections of a Markdown text; the title is the first H1 (or front-matter ``title:``)."""
    text, front_title = _split_front_matter(text)
    sections: list[Section] = []
    stack: list[tuple[int, str, str]] = []  # (level, heading, slug), outermost first
    body: list[str] = []
    seen: dict[str, int] = {}
    first_h1: str | None = None

    def flush() -> None:
        while body and not body[-1].strip():
            body.pop()
        if body:
            sections.append(
                Section(
                    headings=tuple(h for _, h, _ in stack),
                    text="\n".join(body).rstrip(),
                    anchor=stack[-1][2] if stack else None,
                )
            )
        body.clear()

    for kind, line in _lines(text):
        if kind == "code":
            body.append(line)
            continue
        match = _ATX.match(line)
        if match:
            title = heading_text(match.group(2) or "")
            level = len(match.group(1))
            if not title:
                continue  # an empty "##" carries nothing
            slug = github_slug(title, seen)
            if level <= SPLIT_LEVELS:
                flush()
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title, slug))
                if level == 1 and first_h1 is None:
                    first_h1 = title
                continue
        if not line.strip():
            if body and body[-1].strip():
                body.append("")
            continue
        body.append(line)
    flush()
    return Parsed(non_empty(sections), first_h1 or front_title)


def _lines(text: str) -> list[tuple[str, str]]:
    """Tag each line "code" (inside a fence) or "text", with comments and <br/> removed from text.

    A line that held only a comment or a ``<br/>`` becomes blank, so it still separates
    paragraphs; comments that span lines are dropped whole.
    """
    out: list[tuple[str, str]] = []
    fence: str | None = None  # the opening fence while inside a code block
    in_comment = False
    for line in text.split("\n"):
        if fence is not None:
            out.append(("code", line))
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        if in_comment:
            end = line.find("-->")
            if end < 0:
                continue
            in_comment = False
            line = line[end + 3 :]
        opened = _FENCE.match(line)
        if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
            fence = opened.group(1)
            out.append(("code", line))
            continue
        cleaned = _COMMENT.sub("", line)
        start = cleaned.find("<!--")
        if start >= 0:
            in_comment = True
            cleaned = cleaned[:start]
        cleaned = _BR.sub(" ", cleaned)
        out.append(("text", cleaned if cleaned.strip() else ""))
    return out


def _split_front_matter(text: str) -> tuple[str, str | None]:
    """Drop a leading YAML front-matter block (Jekyll, Hugo) and keep its ``title:``."""
    if not text.startswith("---\n"):
        return text, None
    end = text.find("\n---\n", 3)
    if end < 0:
        return text, None
    match = _FRONT_MATTER_TITLE.search(text[4:end])
    return text[end + 5 :], (match.group(1).strip() or None) if match else None
