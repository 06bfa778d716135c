"""The build's last steps: stage a version, move it into ``versions/``, publish, prune.

A version is written and evaluated in ``tmp-<id>/versions/<id>/`` (shaped like an index
dir, so the ordinary reader loads it), moved into ``versions/`` only once it passed, then
recorded in ``published`` and made ``current``. Pruning keeps the newest *published*
versions, never the newest names: a build killed between the move and the publish
leaves a complete version that was never served, and the next build removes it.
All of this runs under the build lock.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from assistant.errors import IndexCorruptError
from assistant.index import (
    PUBLISHED,
    VERSIONS,
    current_version,
    fsync_dir,
    list_versions,
    publish_version,
    read_published,
)

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200  # versions remembered in `published`; far more than anyone keeps


def staging_dir(index_dir: Path, version: str) -> Path:
    """Where a build writes ``version`` before it is evaluated and moved into place."""
    return index_dir / f"tmp-{version}" / VERSIONS / version


def _current_or_none(index_dir: Path) -> str | None:
    try:
        return current_version(index_dir)
    except IndexCorruptError:  # a damaged `current` is what the next publish repairs
        return None


def published_versions(index_dir: Path) -> list[str]:
    """Versions ever published, oldest first; an index dir from before the record counts
    every complete version it holds as published (nothing there says otherwise)."""
    published = read_published(index_dir)
    if published is None:
        published = list_versions(index_dir)
    current = _current_or_none(index_dir)
    if current is not None and current not in published:
        published.append(current)
    return published


def _write_published(index_dir: Path, versions: list[str]) -> None:
    tmp = index_dir / f".{PUBLISHED}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        f.write("".join(v + "\n" for v in versions[-HISTORY_LIMIT:]))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / PUBLISHED)
    fsync_dir(index_dir)


def clean_leftovers(index_dir: Path) -> None:
    """Remove what killed builds left: staging dirs, temp files, never-published versions."""
    for p in index_dir.glob("tmp-*"):
        logger.info("removing leftovers of an interrupted build: %s", p)
        shutil.rmtree(p, ignore_errors=True)
    for pattern in (".current.*.tmp", f".{PUBLISHED}.*.tmp"):
        for p in index_dir.glob(pattern):
            p.unlink(missing_ok=True)
    published = set(published_versions(index_dir))
    for v in list_versions(index_dir):
        if v not in published:
            logger.warning("removing version %s: complete but never published (build killed)", v)
            shutil.rmtree(index_dir / VERSIONS / v, ignore_errors=True)
    if read_published(index_dir) is None and published:
        _write_published(index_dir, sorted(published))


def promote(index_dir: Path, staged: Path, version: str) -> Path:
    """Move an evaluated staging dir into ``versions/`` (one rename) and fsync the parent."""
    (index_dir / VERSIONS).mkdir(exist_ok=True)
    final = index_dir / VERSIONS / version
    os.replace(staged, final)
    fsync_dir(index_dir / VERSIONS)
    shutil.rmtree(staged.parent.parent, ignore_errors=True)
    return final


def publish(index_dir: Path, version: str) -> None:
    """Record ``version`` as published, then point ``current`` at it.

    The record comes first: a build killed between the two leaves a complete, evaluated
    version that is kept (and may be pruned later), never the served one deleted.
    """
    earlier = [v for v in published_versions(index_dir) if v != version]
    _write_published(index_dir, [*earlier, version])
    publish_version(index_dir, version)


def prune(index_dir: Path, keep: int) -> list[str]:
    """Delete published versions beyond the newest ``keep`` (never ``current``); returns them."""
    current = _current_or_none(index_dir)
    on_disk = set(list_versions(index_dir))
    published = [v for v in published_versions(index_dir) if v in on_disk]
    keep_set = set(published[-keep:] if keep > 0 else []) | {current}
    removed = [v for v in published if v not in keep_set]
    for v in removed:
        shutil.rmtree(index_dir / VERSIONS / v, ignore_errors=True)
    if removed:
        logger.info("pruned index versions %s", ", ".join(removed))
    return removed
