"""What every loader shares: the skip signal, strict decoding, slugs and blank-line tidying."""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from assistant.errors import BadInputError
from assistant.types import Section

# A NUL byte this early means a binary file (images, archives, UTF-16 without BOM).
BINARY_SNIFF_BYTES = 8192

_BLANK_RUN = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")
_SLUG_DROP = re.compile(r"[^\w\- ]")


class SkippedSource(BadInputError):
    """A source the build leaves out; ``reason`` says why in words a maintainer can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Parsed(NamedTuple):
    """A loader's output before it becomes a Document: sections, the title and tags it found."""

    sections: list[Section]
    title: str | None
    tags: tuple[str, ...] = ()  # e.g. Markdown front matter's ``tags``


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Decode strictly: a declared charset, else UTF-8 (BOM allowed); never guess or mangle."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and charset is None:
        raise SkippedSource("not valid UTF-8: the file is UTF-16 (save it as UTF-8)")
    encoding = "utf-8-sig" if charset is None or _is_utf8(charset) else charset
    # A declared UTF-16/32 charset legitimately has NUL bytes; everything else must not.
    wide = charset is not None and charset.lower().replace("_", "-").startswith(
        ("utf-16", "utf-32")
    )
    if b"\x00" in data[:BINARY_SNIFF_BYTES] and not wide:
        raise SkippedSource("binary file")
    try:
        text = data.decode(encoding)
    except LookupError as exc:
        raise SkippedSource(f"unknown charset {charset!r}") from exc
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        label = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise SkippedSource(f"not valid {label}: byte 0x{bad} at offset {exc.start}") from exc
    if not text.strip():
        raise SkippedSource("empty")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


def github_slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.

    ``seen`` counts slugs already used in the document, so repeats get ``-1``, ``-2``.
    """
    base = _SLUG_DROP.sub("", heading.strip().lower()).replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def tidy_blank_lines(text: str) -> str:
    """Strip the ends and fold runs of blank lines into one (callers keep code blocks out)."""
    return _BLANK_RUN.sub("\n\n", text).strip("\n").rstrip()


def non_empty(sections: list[Section]) -> list[Section]:
    """Sections with some text; a heading with nothing under it carries nothing to retrieve."""
    return [s for s in sections if s.text.strip()]
