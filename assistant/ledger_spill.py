"""Ledger rows that could not reach the database, kept in local JSONL files until replayed.

Each process appends to its own file ``ledger-spill-<pid>-<id>.jsonl`` in the spill
folder and holds an OS lock on ``<file>.lock`` for its lifetime. The lock dies with the
process (even ``kill -9``), so a later process can tell an abandoned file from a live
one: it replays the abandoned files and leaves the live ones to their owners.

Appends are flushed to the OS at once (they survive the process being killed) and
fsynced when the writer thread spills a batch (they survive a machine crash then).
Replay is at-least-once: a process killed between a batch's database commit and the
file rewrite replays that batch again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

PATTERN = "ledger-spill-*.jsonl"


def _encode(row: Any) -> str:
    values = asdict(row)
    values["ts"] = row.ts.isoformat()
    return json.dumps(values, separators=(",", ":")) + "\n"


def _decode(line: str, row_type: type) -> Any:
    values = json.loads(line)
    values["ts"] = datetime.fromisoformat(values["ts"])
    names = {f.name for f in fields(row_type)}
    return row_type(**{k: v for k, v in values.items() if k in names})


class SpillDir:
    """This process's spill file, plus replay of files whose owners died."""

    def __init__(self, root: Path, row_type: type) -> None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the ledger spill folder {root}: {exc}") from exc
        self.root = root
        self.row_type = row_type
        self.path = root / f"ledger-spill-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._owner = FileLock(f"{self.path}.lock", timeout=0)
        self._owner.acquire()
        self._lock = threading.Lock()
        self.pending = 0  # rows in our file, not yet replayed
        self.total = 0  # rows ever spilled by this process
        self.unreadable = 0  # lines of abandoned files that could not be parsed

    def append(self, rows: Iterable[Any], *, fsync: bool) -> int:
        text = "".join(_encode(r) for r in rows)
        n = text.count("\n")
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
            self.pending += n
            self.total += n
        return n

    @contextmanager
    def take(self, limit: int) -> Iterator[list[Any]]:
        """Our oldest ``limit`` pending rows; they leave the file only if the body succeeds."""
        with self._lock:
            try:
                with self.path.open(encoding="utf-8") as f:
                    lines = [line for _, line in zip(range(limit), f, strict=False)]
            except FileNotFoundError:
                lines = []
        yield [_decode(line, self.row_type) for line in lines]
        if not lines:
            self.pending = 0
            return
        with self._lock:
            rest = self.path.read_text(encoding="utf-8").splitlines(keepends=True)[len(lines) :]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(rest), encoding="utf-8")
            os.replace(tmp, self.path)
            self.pending = len(rest)

    def abandoned(self) -> list[Path]:
        """Spill files of processes that are gone (their lock is free)."""
        return [p for p in sorted(self.root.glob(PATTERN)) if p != self.path]

    @contextmanager
    def adopt(self, path: Path) -> Iterator[list[Any] | None]:
        """The rows of an abandoned file (None if its owner lives); deleted after the body."""
        lock = FileLock(f"{path}.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            yield None
            return
        try:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:  # replayed by another process just now
                text = ""
            rows = []
            for lineno, line in enumerate(text.splitlines(), 1):
                try:
                    rows.append(_decode(line, self.row_type))
                except (ValueError, TypeError, KeyError) as exc:
                    # A line cut short by a kill mid-write: the only row that can be lost here.
                    self.unreadable += 1
                    logger.error("ledger spill %s:%d unreadable, row lost: %s", path, lineno, exc)
            yield rows
            path.unlink(missing_ok=True)
        finally:
            lock.release()
            Path(f"{path}.lock").unlink(missing_ok=True)

    def sweep_locks(self) -> None:
        """Remove lock files that dead processes left without any spilled rows."""
        for lock_path in self.root.glob(f"{PATTERN}.lock"):
            data = Path(str(lock_path)[: -len(".lock")])
            if data == self.path or data.exists():
                continue
            lock = FileLock(str(lock_path), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                continue
            lock.release()
            lock_path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self.pending == 0:
                self.path.unlink(missing_ok=True)
        self._owner.release()
        if self.pending == 0:
            Path(f"{self.path}.lock").unlink(missing_ok=True)
