"""Load corpus files and fetched pages into Documents of heading sections.

``load_file`` dispatches on the file suffix (``load_file_bytes`` too, for a file's bytes
read already), ``load_bytes`` on the Content-Type (then the URL's suffix). Bad content of any kind raises ``SkippedSource`` with a reason a maintainer
can act on; no other exception escapes for bad content.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from assistant.types import Document
from indexing.loaders.common import Parsed, SkippedSource, decode_text
from indexing.loaders.markdown import parse_markdown
from indexing.loaders.text import parse_rst, parse_text

__all__ = ["SUPPORTED_SUFFIXES", "SkippedSource", "load_bytes", "load_file", "load_file_bytes"]


# The HTML, PDF and notebook parsers import BeautifulSoup, pypdf and nbformat (0.4 s
# together): imported on the first file of their kind, so a rebuild that parses one
# Markdown file (or none) does not pay for them.
def _parse_html(data: bytes, charset: str | None) -> Parsed:
    from indexing.loaders.html import parse_html

    return parse_html(data, charset)


def _parse_pdf(data: bytes, _charset: str | None) -> Parsed:
    from indexing.loaders.pdf import parse_pdf

    return parse_pdf(data)


def _parse_notebook(data: bytes, charset: str | None) -> Parsed:
    from indexing.loaders.notebook import parse_notebook

    return parse_notebook(decode_text(data, charset))


# format name → (parser of raw bytes and an optional charset, Document.kind)
_FORMATS: dict[str, tuple[Callable[[bytes, str | None], Parsed], str]] = {
    "markdown": (lambda data, cs: parse_markdown(decode_text(data, cs)), "markdown"),
    "text": (lambda data, cs: parse_text(decode_text(data, cs)), "text"),
    "rst": (lambda data, cs: parse_rst(decode_text(data, cs)), "text"),
    "html": (_parse_html, "html"),
    "pdf": (_parse_pdf, "pdf"),
    "notebook": (_parse_notebook, "notebook"),
}
_FORMAT_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".rst": "rst",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".ipynb": "notebook",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMAT_BY_SUFFIX)

_FORMAT_BY_MIME = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/x-rst": "rst",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/x-ipynb+json": "notebook",
}
# Servers label many files with these (raw.githubusercontent.com serves .md and .ipynb as
# text/plain), so the URL's suffix decides.
_GENERIC_MIMES = frozenset(
    {"", "text/plain", "application/octet-stream", "binary/octet-stream", "application/json"}
)


def load_file(
    path: Path,
    source: str,
    *,
    max_bytes: int,
    title: str | None = None,
    phases: tuple[int, ...] = (),
) -> Document:
    """Load one corpus file; ``source`` is its path relative to the corpus root."""
    _file_format(path.name)  # an unsupported type is refused before the file is read
    data = _read_limited(path, max_bytes)
    return load_file_bytes(data, path.name, source, title=title, phases=phases)


def load_file_bytes(
    data: bytes,
    name: str,
    source: str,
    *,
    title: str | None = None,
    phases: tuple[int, ...] = (),
) -> Document:
    """A corpus file's bytes, already read, parsed as ``load_file`` parses the file.

    ``name`` is the file's own name: its suffix picks the parser, its stem is the title
    of last resort.
    """
    parse, kind = _FORMATS[_file_format(name)]
    parsed = parse(data, None)
    stem = PurePosixPath(name).stem
    return _document(parsed, source, kind, title or parsed.title or stem, None, phases)


def _file_format(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    fmt = _FORMAT_BY_SUFFIX.get(suffix.lower())
    if fmt is None:
        raise SkippedSource(f"unsupported file type {suffix or '(no suffix)'!r}")
    return fmt


def load_bytes(
    data: bytes,
    source: str,
    *,
    content_type: str | None,
    url: str | None = None,
    title: str | None = None,
    phases: tuple[int, ...] = (),
) -> Document:
    """Load fetched bytes; the format comes from ``content_type``, else the URL's suffix."""
    mime, charset = parse_content_type(content_type)
    name = PurePosixPath(urlsplit(url or source).path).name
    suffix = PurePosixPath(name).suffix.lower()
    fmt = _FORMAT_BY_MIME.get(mime)
    if fmt is None and mime in _GENERIC_MIMES:
        fmt = _FORMAT_BY_SUFFIX.get(suffix) or _sniff(data, mime)
    if fmt is None:
        raise SkippedSource(f"unsupported content type {mime or content_type!r} for {source}")
    parse, kind = _FORMATS[fmt]
    parsed = parse(data, charset)
    fallback = PurePosixPath(name).stem or urlsplit(url or source).hostname or source
    return _document(
        parsed, source, "url" if url else kind, title or parsed.title or fallback, url, phases
    )


def parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    """``"text/html; charset=ISO-8859-1"`` → ``("text/html", "ISO-8859-1")``."""
    if not content_type:
        return "", None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip("\"'"):
            charset = value.strip().strip("\"'")
    return mime.strip().lower(), charset


def _sniff(data: bytes, mime: str) -> str | None:
    """Guess a format for unlabelled bytes with no known suffix."""
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return "pdf"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text" if mime in ("", "text/plain") else None


def _read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; its size is checked before reading (and again while reading)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SkippedSource("not a regular file")
        if info.st_size > max_bytes:
            raise SkippedSource(f"too large: {info.st_size} bytes > {max_bytes}")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat
    except FileNotFoundError as exc:
        raise SkippedSource("not found") from exc
    except PermissionError as exc:
        raise SkippedSource("unreadable: permission denied") from exc
    except OSError as exc:
        raise SkippedSource(f"unreadable: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise SkippedSource(f"too large: more than {max_bytes} bytes")
    return data


def _document(
    parsed: Parsed,
    source: str,
    kind: str,
    title: str,
    url: str | None,
    phases: tuple[int, ...],
) -> Document:
    if not parsed.sections:
        raise SkippedSource("empty: no text after removing markup")
    return Document(
        source=source,
        title=title,
        sections=parsed.sections,
        url=url,
        phases=tuple(phases),
        kind=kind,
        tags=parsed.tags,
    )
