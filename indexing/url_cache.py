"""On-disk cache of fetched URLs: body + JSON metadata (no pickle), keyed by sha256 of the URL.

Lets the build revalidate with ETag / Last-Modified, skip the network while a copy is
fresh, and keep working offline. A URL the network failed (with no copy to fall back on)
is remembered too (``<key>.failed.json``), so the next builds need not wait on it again.
Entries are written atomically and checked on read; a damaged entry is ignored, never
trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(slots=True)
class CacheEntry:
    """What was stored for one requested URL."""

    url: str
    final_url: str  # after redirects; validators belong to this URL
    content_type: str | None
    status: int
    etag: str | None
    last_modified: str | None
    fetched_at: float  # unix seconds of the last full download or revalidation
    body_sha256: str
    size: int  # bytes


@dataclass(slots=True)
class Failure:
    """The network's last failure for a URL with no cached copy."""

    url: str
    reason: str
    at: float  # unix seconds


class UrlCache:
    """One directory of ``<sha256(url)>.json`` + ``<sha256(url)>.body`` pairs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, url: str, suffix: str) -> Path:
        return self.root / (hashlib.sha256(url.encode("utf-8")).hexdigest() + suffix)

    def _paths(self, url: str) -> tuple[Path, Path]:
        return self._path(url, ".json"), self._path(url, ".body")

    def _failure_path(self, url: str) -> Path:
        return self._path(url, ".failed.json")

    def failure(self, url: str) -> Failure | None:
        """When and why the network last failed ``url``; None if it has not (or since)."""
        try:
            raw: Any = json.loads(self._failure_path(url).read_text("utf-8"))
            failed = Failure(url=raw["url"], reason=raw["reason"], at=float(raw["at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            logger.warning("ignoring damaged URL failure record for %s: %s", url, exc)
            return None
        return failed if failed.url == url else None

    def put_failure(self, url: str, reason: str) -> None:
        record = {"url": url, "reason": reason, "at": time.time()}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_atomic(self._failure_path(url), json.dumps(record).encode("utf-8"))
        except OSError as exc:  # costs a retry next build, not this one
            logger.warning("could not record the failure of %s: %s", url, exc)

    def clear_failure(self, url: str) -> None:
        with contextlib.suppress(OSError):
            self._failure_path(url).unlink(missing_ok=True)

    def get(self, url: str) -> tuple[CacheEntry, bytes] | None:
        """The entry and body for ``url``, or None when absent or damaged."""
        meta_path, body_path = self._paths(url)
        if not meta_path.exists():
            return None
        try:
            raw: Any = json.loads(meta_path.read_text("utf-8"))
            if raw.get("format") != FORMAT_VERSION:
                return None
            entry = CacheEntry(**{k: raw[k] for k in CacheEntry.__dataclass_fields__})
            body = body_path.read_bytes()
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("ignoring damaged URL cache entry for %s: %s", url, exc)
            return None
        if entry.url != url or hashlib.sha256(body).hexdigest() != entry.body_sha256:
            logger.warning("ignoring URL cache entry for %s: body does not match its hash", url)
            return None
        return entry, body

    def put(self, entry: CacheEntry, body: bytes | None) -> None:
        """Store ``entry`` (and ``body`` when given: None keeps the stored body)."""
        meta_path, body_path = self._paths(entry.url)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if body is not None:
                _write_atomic(body_path, body)
            meta = {"format": FORMAT_VERSION, **asdict(entry)}
            _write_atomic(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
        except OSError as exc:  # a cache we cannot write costs a refetch, not the build
            logger.warning("could not write URL cache entry for %s: %s", entry.url, exc)

    @staticmethod
    def new_entry(
        url: str,
        final_url: str,
        content_type: str | None,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
    ) -> CacheEntry:
        return CacheEntry(
            url=url,
            final_url=final_url,
            content_type=content_type,
            status=status,
            etag=etag,
            last_modified=last_modified,
            fetched_at=time.time(),
            body_sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
        )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
