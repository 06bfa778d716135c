"""Plain text (one section) and reStructuredText (split on underlined section titles)."""

from __future__ import annotations

import re
import unicodedata

from assistant.types import Section
from indexing.loaders.common import Parsed, non_empty, tidy_blank_lines

SPLIT_LEVELS = 4  # the first four title styles start sections; deeper titles stay in the text

# An adornment line: one punctuation character repeated (docutils allows any of these).
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+[ \t]*$")


def parse_text(text: str) -> Parsed:
    """A plain text file is one section with no heading."""
    return Parsed(non_empty([Section(headings=(), text=tidy_blank_lines(text))]), None)


def parse_rst(text: str) -> Parsed:
    """Sections of reStructuredText; title styles rank in order of first use, as docutils does."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []  # (adornment char, has overline), outermost first
    stack: list[tuple[int, str, str]] = []  # (level, title, id)
    sections: list[Section] = []
    body: list[str] = []
    title: str | None = None

    def flush() -> None:
        if body:
            sections.append(
                Section(
                    headings=tuple(t for _, t, _ in stack),
                    text=tidy_blank_lines("\n".join(body)),
                    anchor=stack[-1][2] if stack else None,
                )
            )
        body.clear()

    i = 0
    while i < len(lines):
        found = _title_at(lines, i)
        if found is None:
            body.append(lines[i])
            i += 1
            continue
        heading, style, consumed = found
        if style not in styles:
            styles.append(style)
        level = styles.index(style) + 1
        if level > SPLIT_LEVELS:
            body.extend(lines[i : i + consumed])
        else:
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading, docutils_id(heading)))
            title = title or heading
        i += consumed
    flush()
    return Parsed(non_empty(sections), title)


def _title_at(lines: list[str], i: int) -> tuple[str, tuple[str, bool], int] | None:
    """A section title starting at line ``i``: (text, style, lines used), or None."""
    first = lines[i]
    after = lines[i + 1] if i + 1 < len(lines) else ""
    over = _ADORNMENT.match(first)
    if over and i + 2 < len(lines):  # overline, title, underline
        under = _ADORNMENT.match(lines[i + 2])
        heading = after.strip()
        if (
            under
            and under.group(1) == over.group(1)
            and heading
            and not _ADORNMENT.match(after)
            and len(lines[i + 2].rstrip()) >= len(heading)
        ):
            return heading, (over.group(1), True), 3
    if over or not first.strip() or first[0] in " \t":
        return None
    if i > 0 and lines[i - 1].strip():
        return None  # a title starts after a blank line, or the document start
    under = _ADORNMENT.match(after)
    if under and len(after.rstrip()) >= len(first.rstrip()):
        return first.strip(), (under.group(1), False), 2
    return None


def docutils_id(title: str) -> str:
    """The id docutils gives a section: ASCII, lower case, other runs become one hyphen."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
