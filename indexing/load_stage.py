"""The build's load + chunk stage: each source's chunks, reused when its file did not change.

Both engines follow the same steps per source. ``prepare`` runs in the publishing process:
it reads a file once (``fingerprints.read_file``), and either takes the previous version's
chunks for it, or names the skip, or hands back what is left to parse: the file's bytes
(``FileBytes``) or a URL source's fetched ``Document``. ``parse_and_chunk`` does that part,
here (the local engine) or on a Ray worker, which needs no corpus mount. ``Loaded.add``
puts the results together in source order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.types import Chunk, Document
from indexing.chunking import TokenChunker
from indexing.fingerprints import Previous, read_file, reusable, text_hash, url_fingerprint
from indexing.loaders import SkippedSource, load_bytes, load_file_bytes
from indexing.sources import SourceItem

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
# A source the stage cannot read itself: a URL source's fetched body, or a file's Document
# (or SkippedSource naming why not).
Load = Callable[[SourceItem], "Document | FileBytes"]


@dataclass(slots=True, frozen=True)
class FileBytes:
    """A corpus file as the publishing process read it (for its fingerprint)."""

    name: str  # the file's own name: its suffix picks the parser, its stem is a title fallback
    data: bytes
    source: str
    title: str | None
    phases: tuple[int, ...]
    # A URL source's fetched body: parsed by its content type, its chunks linking ``url``
    # (where it was finally fetched from).
    url: str | None = None
    content_type: str | None = None


@dataclass(slots=True)
class Parsed:
    """One source's chunks (parsed now, or reused), or why it was skipped."""

    chunks: list[Chunk]
    text_hash: str = ""  # sha256 of the document's text (the manifest's "sources")
    skipped: str | None = None
    chunk_s: float = 0.0
    reused: bool = False  # the previous version's chunks: the file did not change
    touched: bool = False  # reused, but the file's mtime moved


@dataclass(slots=True)
class Loaded:
    """The corpus as chunks, with what was read, parsed and reused to get there."""

    chunks: list[Chunk] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # source -> sha256 of its text
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    parsed: int = 0  # sources loaded and chunked in this build
    unchanged: int = 0  # files whose chunks were taken from the previous version
    touched: int = 0  # of those, files whose mtime changed but bytes did not
    chunk_s: float = 0.0  # seconds spent chunking (the rest of the stage is reading/parsing)

    def add(self, source: str, parsed: Parsed, fingerprint: dict[str, Any] | None) -> None:
        """The next source's result, in source order."""
        if parsed.skipped is not None:
            self.skipped.append((source, parsed.skipped))
            # INFO: the build report lists every skip (the CLI prints it, the manifest keeps it)
            logger.info("skipped %s: %s", source, parsed.skipped)
            return
        self.chunks.extend(parsed.chunks)
        self.sources[source] = parsed.text_hash
        self.chunk_s += parsed.chunk_s
        if parsed.reused:
            self.unchanged += 1
            self.touched += parsed.touched
        else:
            self.parsed += 1
        if fingerprint is not None:
            self.fingerprints[source] = fingerprint


def prepare(
    item: SourceItem,
    previous: Previous,
    load: Load,
    max_bytes: int,
) -> tuple[dict[str, Any] | None, Parsed | FileBytes | Document]:
    """(the source's fingerprint, a finished ``Parsed`` or what is left to parse).

    ``load(item)`` fetches a URL source (its body, unparsed), and names the reason for a
    file that ``read_file`` could not read (missing, too large); it raises
    ``SkippedSource``. A page whose body, final URL and content type are the previous
    version's is not parsed again.
    """
    fp, data = read_file(item, max_bytes)
    reuse = reusable(item, fp, previous)
    if reuse is not None:
        chunks, hashed, touched = reuse
        return fp, Parsed(chunks, hashed, reused=True, touched=touched)
    if data is not None:
        assert item.path is not None
        return fp, FileBytes(item.path.name, data, item.source, item.title, item.phases)
    try:
        loaded = load(item)
    except SkippedSource as exc:
        return fp, Parsed([], skipped=exc.reason)
    if isinstance(loaded, FileBytes) and loaded.url is not None:
        fp = url_fingerprint(item, loaded.data, loaded.url, loaded.content_type)
        reuse = reusable(item, fp, previous)
        if reuse is not None:
            chunks, hashed, _ = reuse
            return fp, Parsed(chunks, hashed, reused=True)
    return fp, loaded


def parse_and_chunk(payload: FileBytes | Document, chunker: TokenChunker) -> Parsed:
    """Parse a file's bytes exactly as ``load_file`` parses the file, then chunk it."""
    try:
        if isinstance(payload, Document):
            doc = payload
        elif payload.url is not None:  # a URL source, fetched by the publishing process
            doc = load_bytes(
                payload.data,
                payload.source,
                content_type=payload.content_type,
                url=payload.url,
                title=payload.title,
                phases=payload.phases,
            )
        else:
            doc = load_file_bytes(
                payload.data,
                payload.name,
                payload.source,
                title=payload.title,
                phases=payload.phases,
            )
    except SkippedSource as exc:
        return Parsed([], skipped=exc.reason)
    t = time.perf_counter()
    chunks = chunker.chunk(doc)
    return Parsed(chunks, text_hash(doc), chunk_s=time.perf_counter() - t)


def load_and_chunk(
    items: list[SourceItem],
    previous: Previous,
    chunker: TokenChunker,
    load: Load,
    *,
    max_bytes: int,
    progress: Progress | None = None,
) -> Loaded:
    """Chunks of every source in order, in this process; see the module docstring."""
    out = Loaded()
    for i, item in enumerate(items):
        fp, work = prepare(item, previous, load, max_bytes)
        out.add(
            item.source, work if isinstance(work, Parsed) else parse_and_chunk(work, chunker), fp
        )
        if progress:
            progress("load", i + 1, len(items))
    return out
