"""Settings -> the objects of the build job and the fine-tuning data (the CLI's own factory).

`assistant.factory` wires the core (embedder, retriever, service); the parts that belong to
`indexing` and `finetune` are wired here, because the core imports neither. Everything is
imported inside the functions: a command pays only for what it builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.errors import IndexNotBuiltError

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.types import Chunk
    from finetune import Retriever
    from indexing import BuildOptions, UrlFetcher


def make_fetcher(s: Settings, *, refresh: bool = False) -> UrlFetcher:
    """The HTTP fetcher for URL sources, with the URL policy and cache of the settings;
    ``refresh`` asks the network for every URL now (``--refresh-urls``)."""
    from indexing import UrlFetcher

    return UrlFetcher(
        s.resolved_url_cache_dir,
        allow_private=s.allow_private_urls,
        allowed_networks=s.url_allowed_networks,
        timeout_s=s.url_timeout_s,
        max_bytes=s.url_max_bytes,
        refresh_s=0.0 if refresh else s.url_refresh_s,
        retry_s=0.0 if refresh else s.url_retry_s,
    )


def build_options(s: Settings, *, full: bool, wait: bool) -> BuildOptions:
    """What `index build` publishes where, from the settings and the two flags."""
    from indexing import BuildOptions

    return BuildOptions(
        corpus=s.corpus_dir,
        index_dir=s.index_dir,
        full=full,
        index_type=s.index_type,
        hnsw_threshold=s.hnsw_threshold,
        ivfpq_threshold=s.ivfpq_threshold,
        keep_versions=s.keep_versions,
        max_file_bytes=s.max_file_bytes,
        lock_timeout_s=-1 if wait else 0,
    )


def record_build(s: Settings, report: Any, model_name: str) -> None:
    """One row in the cost ledger for a finished build."""
    from assistant.factory import make_ledger

    ledger = make_ledger(s)
    try:
        ledger.record_build(
            report.version,
            report.embed_tokens,
            report.embedded,
            report.reused,
            report.seconds.get("total", 0.0),
            model_name,
        )
    finally:
        ledger.close()


def index_retriever(settings: Settings) -> tuple[Retriever, str]:
    """The service's own retrieval (embedder, hybrid search, passage budget) as a callable."""
    from assistant.factory import make_embedder, make_retriever
    from assistant.prompts import fit_passages
    from assistant.searcher import IndexSearcher

    embedder = make_embedder(settings)
    searcher = IndexSearcher(embedder, make_retriever(settings), index_dir=settings.index_dir)
    try:
        searcher.reload()
        snapshot = searcher.snapshot
    except IndexNotBuiltError as exc:
        raise IndexNotBuiltError(
            f"{exc}; or pass --no-retrieval to give each pair only its source passage"
        ) from exc

    def retrieve(question: str, k: int) -> Sequence[Chunk]:
        hits = searcher.retrieve(snapshot, searcher.query(question), k)
        # The same token budget the service applies before it builds the prompt.
        chunks = [h.chunk for h in hits]
        return fit_passages(chunks, settings.context_tokens, embedder.count_tokens)

    return retrieve, snapshot.version
