"""`assistant index watch`: rebuild and publish when the corpus changes, with a warm model.

One process holds the embedder (loaded once, before the first edit) and runs the
ordinary incremental build after every burst of file events: watchfiles groups the
events of one save (editors write, rename and touch) into one batch (``debounce_ms``),
the build re-reads only the changed files (fingerprints) and embeds only new chunks,
and a running service picks the new version up on its next reload poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from assistant.errors import AssistantError
from indexing.build import BuildReport
from indexing.loaders import SUPPORTED_SUFFIXES
from indexing.sources import SOURCES_FILE

logger = logging.getLogger(__name__)

Build = Callable[[], BuildReport]
OnResult = Callable[[BuildReport | AssistantError, list[str]], None]  # (result, changed paths)


def relevant(path: Path, ignore: list[Path]) -> bool:
    """A corpus file the build reads (not the index, not editor temp files)."""
    if any(path == p or p in path.parents for p in ignore):
        return False
    if path.name.startswith(".") or path.name.endswith("~"):
        return False
    return path.name == SOURCES_FILE or path.suffix.lower() in SUPPORTED_SUFFIXES


def watch_corpus(
    corpus: Path,
    build: Build,
    on_result: OnResult,
    *,
    ignore: list[Path] | None = None,
    debounce_ms: int = 300,
    stop: threading.Event | None = None,
    force_polling: bool | None = None,
) -> None:
    """Build once, then again after each batch of relevant changes, until ``stop`` is set.

    Build errors (a bad sources.toml, a corpus with no chunks, another build holding
    the lock) are passed to ``on_result`` and the watch goes on: the previous version
    keeps serving, and the next save tries again.
    """
    from watchfiles import watch

    ignore = [p.resolve() for p in (ignore or [])]
    _run(build, on_result, [])
    for changes in watch(
        corpus,
        watch_filter=lambda _change, p: relevant(Path(p).resolve(), ignore),
        debounce=debounce_ms,
        step=50,
        stop_event=stop,
        force_polling=force_polling,
        raise_interrupt=False,
    ):
        changed = sorted({p for _change, p in changes})
        logger.info("corpus changed: %s", ", ".join(changed))
        _run(build, on_result, changed)


def _run(build: Build, on_result: OnResult, changed: list[str]) -> None:
    try:
        report = build()
    except AssistantError as exc:
        logger.warning("build failed, the previous version keeps serving: %s", exc)
        on_result(exc, changed)
        return
    on_result(report, changed)
