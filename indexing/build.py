"""`assistant index build`: load -> chunk -> embed (incrementally) -> write -> publish.

A build writes everything into ``<index_dir>/tmp-<id>/versions/<id>/``, fsyncs it,
evaluates it there (``--eval``), renames it into ``versions/<version>/``, records it in
``published`` and only then swaps ``current`` (see ``indexing.publish``). A build killed
at any moment leaves the previous version serving; the next build removes its leftovers,
including a version moved into ``versions/`` but never published. One build at a time:
a file lock, waited for up to ``lock_timeout_s``. A build whose chunks are exactly the
published version's (nothing changed, or only mtimes) writes nothing and publishes
nothing (``BuildReport.unchanged``): no reload, no answer cache turned over.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.errors import BadInputError, BuildLockedError, EvalFloorError
from assistant.index import MANIFEST, Manifest, current_version
from assistant.index_plan import check_index_type, plan_index
from assistant.onnx_embedder import OnnxEmbedder
from assistant.types import Document
from indexing.chunking import TokenChunker
from indexing.engine import BuildEngine, LocalEngine
from indexing.fetch import FetchError, UrlFetcher
from indexing.fingerprints import Previous, read_previous
from indexing.load_stage import FileBytes
from indexing.loaders import SkippedSource, load_file
from indexing.publish import clean_leftovers, promote, prune, publish, staging_dir
from indexing.sources import SourceItem, resolve_sources
from indexing.write_stage import same_as_published, write_version

logger = logging.getLogger(__name__)

LOCK_FILE = ".build.lock"
FETCH_FAILED = "fetch failed"  # how a skipped URL source's reason starts (offline, 404, ...)


@dataclass(slots=True)
class BuildOptions:
    corpus: Path
    index_dir: Path
    full: bool = False
    index_type: str = "auto"
    hnsw_threshold: int = 50_000
    ivfpq_threshold: int = 1_000_000
    index_params: dict[str, Any] | None = None  # overrides of the planned FAISS parameters
    keep_versions: int = 3
    max_file_bytes: int = 50_000_000
    lock_timeout_s: float = 0.0  # 0: fail at once when another build runs; -1: wait forever


@dataclass(slots=True)
class BuildReport:
    version: str
    published: bool
    files: int
    urls: int
    chunks: int
    embedded: int
    reused: int
    embed_tokens: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    full_rebuild_reason: str | None = None
    eval: dict[str, Any] | None = None
    # True: the corpus gave exactly the published version's chunks, so nothing was written
    # and ``version`` (the published one) keeps serving: no reload, no cache turned over.
    unchanged: bool = False
    files_read: dict[str, int] = field(default_factory=dict)  # parsed, unchanged, touched

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [{"source": s, "reason": r} for s, r in self.skipped]
        return d


Progress = Callable[[str, int, int], None]  # (stage, done, total)
# version dir -> {"hit_rate@5": ..., "recall@5": ..., ...}; the floor is on hit_rate@5.
Evaluate = Callable[[Path], dict[str, Any]]


def _load_item(
    item: SourceItem, fetcher: UrlFetcher | None, max_bytes: int
) -> Document | FileBytes:
    """A URL source's fetched body (the load stage parses it unless it did not change), or
    the reason a file ``read_file`` could not read is skipped (``SkippedSource``)."""
    if item.url is not None:
        if fetcher is None:
            raise SkippedSource("URL sources need a fetcher")
        try:
            page = fetcher.fetch(item.url)
        except FetchError as exc:
            raise SkippedSource(f"{FETCH_FAILED}: {exc.reason}") from exc
        return FileBytes(
            name=item.url,
            data=page.body,
            source=item.url,
            title=item.title,
            phases=item.phases,
            url=page.final_url,
            content_type=page.content_type,
        )
    assert item.path is not None
    return load_file(
        item.path, item.source, max_bytes=max_bytes, title=item.title, phases=item.phases
    )


def build_index(
    options: BuildOptions,
    embedder: SentenceTransformerEmbedder | OnnxEmbedder,
    *,
    fetcher: UrlFetcher | None = None,
    chunk_size: int = 200,
    chunk_overlap: int = 32,
    evaluate: Evaluate | None = None,
    min_recall: float = 0.0,
    progress: Progress | None = None,
    engine: BuildEngine | None = None,
) -> BuildReport:
    """Build and publish a new index version; see the module docstring for guarantees.

    ``engine`` runs the load/chunk and embed stages (default: this process); everything
    else happens here, in the process that publishes.
    """
    check_index_type(options.index_type)  # before anything is loaded or embedded
    index_dir = options.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK_FILE), timeout=options.lock_timeout_s)
    try:
        lock.acquire()
    except Timeout as exc:
        raise BuildLockedError(
            f"another `index build` is running on {index_dir} (lock {index_dir / LOCK_FILE}); "
            "wait for it to finish, or pass --wait"
        ) from exc
    try:
        return _build_locked(
            options,
            embedder,
            fetcher,
            chunk_size,
            chunk_overlap,
            evaluate,
            min_recall,
            progress,
            engine or LocalEngine(),
        )
    finally:
        lock.release()


def _build_locked(
    options: BuildOptions,
    embedder: SentenceTransformerEmbedder | OnnxEmbedder,
    fetcher: UrlFetcher | None,
    chunk_size: int,
    chunk_overlap: int,
    evaluate: Evaluate | None,
    min_recall: float,
    progress: Progress | None,
    engine: BuildEngine,
) -> BuildReport:
    index_dir = options.index_dir
    clean_leftovers(index_dir)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()

    resolved = resolve_sources(options.corpus)
    if fetcher is not None:  # all URL sources at once; the load stage then takes each in turn
        fetcher.prefetch([i.url for i in resolved.items if i.url is not None])
    # The tokenizer and the model's shape come from its files: nothing loads the model
    # (or torch) unless some chunk below needs a vector.
    chunker = TokenChunker(embedder.tokenizer, chunk_size, chunk_overlap)
    model = {
        "name": embedder.model_name,
        "dimension": embedder.dimension,
        "max_seq_length": embedder.max_seq_length,
    }
    backend = getattr(embedder, "backend", "torch")
    chunking = chunker.settings()
    previous = (
        Previous(reason="--full")
        if options.full
        else read_previous(index_dir, model, backend, chunking)
    )
    loaded = engine.load_and_chunk(
        resolved.items,
        previous,
        chunker,
        lambda item: _load_item(item, fetcher, options.max_file_bytes),
        max_bytes=options.max_file_bytes,
        progress=progress,
    )
    skipped = list(resolved.refused) + loaded.skipped
    chunks = loaded.chunks
    if not chunks:
        # Publishing an empty index would make every running replica answer "not covered".
        raise BadInputError(
            f"the corpus {options.corpus} produced no chunks ({len(resolved.items)} sources, "
            f"{len(skipped)} skipped): nothing was published"
        )
    seconds["load"] = time.perf_counter() - t0 - loaded.chunk_s
    seconds["chunk"] = loaded.chunk_s
    kind, index_params = plan_index(
        options.index_type,
        len(chunks),
        embedder.dimension,
        hnsw_threshold=options.hnsw_threshold,
        ivfpq_threshold=options.ivfpq_threshold,
        overrides=options.index_params,
    )
    files_read = {"parsed": loaded.parsed, "unchanged": loaded.unchanged, "touched": loaded.touched}
    report = BuildReport(
        version="",
        published=False,
        files=sum(1 for i in resolved.items if i.url is None),
        urls=sum(1 for i in resolved.items if i.url is not None),
        chunks=len(chunks),
        embedded=0,
        reused=len(chunks),
        embed_tokens=0,
        skipped=skipped,
        full_rebuild_reason=previous.reason,
        files_read=files_read,
    )
    # Decided before any vector is gathered: at a million chunks that alone is gigabytes.
    if evaluate is None and same_as_published(previous, loaded, skipped, kind, index_params):
        assert previous.manifest is not None
        seconds["total"] = time.perf_counter() - t0
        report.version, report.unchanged = previous.manifest.version, True
        report.seconds = {k: round(v, 3) for k, v in seconds.items()}
        logger.info("index unchanged: %s keeps serving", report.version)
        prune(index_dir, options.keep_versions)  # a lowered keep_versions applies all the same
        return report

    t = time.perf_counter()
    vectors, embedded, embed_tokens = engine.embed_missing(
        chunks, previous.by_hash, embedder, progress
    )
    reused = len(chunks) - embedded
    report.embedded, report.reused, report.embed_tokens = embedded, reused, embed_tokens
    seconds["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    created = datetime.now(UTC)
    # Microseconds: versions sort by name in build order even when built in one second.
    version = f"{created.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:6]}"
    tmp = staging_dir(index_dir, version)
    tmp.mkdir(parents=True)
    if progress:
        progress("write", 0, 1)
    manifest = Manifest(
        version=version,
        created_at=created.isoformat(),
        model=model,
        chunking=chunking,
        index_type=kind,
        counts={
            "chunks": len(chunks),
            "sources": len(loaded.sources),
            "embedded": embedded,
            "reused": reused,
            "skipped": len(skipped),
        },
        sources=loaded.sources,
        embed_tokens=embed_tokens,
        fingerprints=loaded.fingerprints,
        embedding_backend=backend,
        index_params=index_params,
    )
    manifest.files = write_version(tmp, chunks, vectors, kind, index_params)
    if progress:
        progress("write", 1, 1)
    seconds["write"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    manifest.stats = {
        "engine": engine.name,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "skipped": [{"source": s, "reason": r} for s, r in skipped],
        "files": files_read,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2), encoding="utf-8")
    with (tmp / MANIFEST).open("rb") as fh:
        os.fsync(fh.fileno())
    report.version = version
    report.seconds = {k: round(v, 3) for k, v in seconds.items()}
    if evaluate is not None:
        # Scored where it was written: a build killed here leaves only tmp-*, which the
        # next build removes; nothing unpublished ever sits in versions/.
        report.eval = evaluate(tmp)
        # The floor is on the hit rate (questions with a relevant chunk in the top 5): unlike
        # recall@5 it does not fall when a new chunk size splits sections into more chunks.
        hit_rate = float(report.eval.get("hit_rate@5", 0.0))
        if hit_rate < min_recall:
            shutil.rmtree(tmp.parent.parent, ignore_errors=True)
            raise EvalFloorError(
                f"new index {version} scored hit_rate@5 = {hit_rate:.3f}, below the floor "
                f"{min_recall:.3f} (ASSISTANT_EVAL_MIN_RECALL): not published; "
                f"{current_version(index_dir) or 'no version'} keeps serving"
            )
    promote(index_dir, tmp, version)
    if progress:
        progress("publish", 0, 1)
    publish(index_dir, version)
    report.published = True
    prune(index_dir, options.keep_versions)
    logger.info(
        "published index %s: %d chunks (%d embedded, %d reused)",
        version,
        len(chunks),
        embedded,
        reused,
    )
    return report
