"""The ledger's background writer: a bounded queue, batches, retries, the spill file.

See ``assistant.ledger`` for the guarantees. Rows are any dataclass with ``ts`` and
``request_id`` (``QueryCost``); ``insert`` writes a list of them in one transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from assistant.ledger_spill import SpillDir

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows per INSERT; SQLite handles bigger, PostgreSQL's round trip is what costs
# After the first row of a batch, wait this long for more: under load one transaction then
# carries dozens of rows instead of one (a commit per cached answer cost as much CPU as the
# answer itself); a row reaches the database at most this much later.
LINGER_S = 0.02
BACKOFF_S = (0.2, 5.0)  # first and longest wait between attempts while the database fails
# Errors that say "the database is not there right now", as opposed to a bad row.
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


class LedgerWriter:
    """Inserts queued rows from one thread; spills to disk while the database is away."""

    def __init__(
        self,
        insert: Callable[[list[Any]], None],
        spill: SpillDir | None,
        *,
        max_queue: int,
        stall_s: float,
        retry_for_s: float,
    ) -> None:
        self._insert = insert
        self.spill = spill
        self.stall_s = stall_s
        self.retry_for_s = retry_for_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._done = threading.Condition()
        self._enqueued = 0  # rows put on the queue
        self._finished = 0  # rows written, spilled or given up on
        self.dropped = 0  # rows lost (bad rows; failures with no spill folder; full queue)
        self.last_error: str | None = None  # the last database error, while it lasts
        self._busy_since: float | None = None  # monotonic start of the insert in flight
        self._backoff = BACKOFF_S[0]
        self._next_replay = 0.0
        self._closed = False
        if self.spill is not None:
            self._replay_abandoned()
        self._writer = threading.Thread(target=self._write_loop, name="cost-ledger", daemon=True)
        self._writer.start()

    # --- health ----------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """False while the database fails, or an insert has hung for more than ``stall_s``."""
        return self.last_error is None and not self._stalled()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def spilled_rows(self) -> int:
        """Rows waiting in this process's spill file for the database."""
        return self.spill.pending if self.spill is not None else 0

    @property
    def spilled_total(self) -> int:
        return self.spill.total if self.spill is not None else 0

    def _stalled(self) -> bool:
        since = self._busy_since
        return since is not None and time.monotonic() - since > self.stall_s

    # --- writing ---------------------------------------------------------------------
    def record(self, row: Any) -> None:
        """Queue one row; returns at once (a local file append when the database is down)."""
        if self._closed:
            logger.warning(
                "cost ledger is closed; writing request %s synchronously", row.request_id
            )
            self._write_batch([row], count=False)
            return
        if self.spill is not None and (self.spill.pending or self._stalled()):
            # The database is down or hung: keep rows on disk, not in memory, including
            # those queued behind the hung insert (a kill -9 would take them with it).
            items = _drain(self._queue)
            if None in items:  # close() is under way: its stop marker goes back
                self._queue.put_nowait(None)
            queued = [r for r in items if r is not None]
            self.spill.append([*queued, row], fsync=False)
            self._finish(len(queued))
            return
        with self._done:
            self._enqueued += 1
        try:  # without a spill folder a full queue pushes back for up to stall_s first
            if self.spill is not None:
                self._queue.put_nowait(row)
            else:
                self._queue.put(row, timeout=self.stall_s)
        except queue.Full:
            with self._done:
                self._enqueued -= 1
            if self.spill is not None:
                self.spill.append([row], fsync=False)
            else:
                self.dropped += 1
                logger.error("cost ledger queue full: request %s not recorded", row.request_id)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every row queued so far is written (or spilled); False on timeout."""
        with self._done:
            target = self._enqueued
            return self._done.wait_for(lambda: self._finished >= target, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued and stop the writer."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            pass
        self._writer.join(timeout=timeout_s)
        # Rows still queued: the writer hung on the database, or a record() raced close().
        late = [r for r in _drain(self._queue) if r is not None]
        if self._writer.is_alive():
            logger.error("cost ledger writer did not stop within %.0fs", timeout_s)
            if late and self.spill is not None:
                self.spill.append(late, fsync=True)
            elif late:
                self.dropped += len(late)
                logger.error("cost ledger lost %d queued rows at shutdown", len(late))
        elif late:
            self._write_batch(late)
        if self.spill is not None:
            self.spill.close()

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            waiting = self.spill is not None and self.spill.pending > 0
            try:
                item = self._queue.get(timeout=self._backoff if waiting else None)
            except queue.Empty:
                item = False  # type: ignore[assignment]  # no row: time to retry the spill
            batch: list[Any] = []
            if item is not None and item is not False and self._queue.qsize() < BATCH_SIZE:
                time.sleep(LINGER_S)
            while True:
                if item is None:
                    stop = True
                elif item is not False:
                    batch.append(item)
                if stop or len(batch) >= BATCH_SIZE:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if waiting and batch:
                assert self.spill is not None
                self.spill.append(batch, fsync=True)  # behind the rows already waiting
                self._finish(len(batch))
            elif batch:
                self._write_batch(batch)
            if self.spill is not None and self.spill.pending:
                self._replay()

    def _finish(self, n: int) -> None:
        with self._done:
            self._finished += n
            self._done.notify_all()

    def _write_batch(self, batch: list[Any], *, count: bool = True) -> None:
        try:
            self._try_insert(batch)
        except TRANSIENT as exc:
            self._failed(exc)
            if self.spill is not None:
                self.spill.append(batch, fsync=True)
            else:
                self._retry_in_memory(batch)
        except Exception as exc:  # the writer thread must survive anything
            logger.error("cost ledger batch of %d rows failed: %s", len(batch), exc)
            # One bad row must not take its whole batch down: try them one by one.
            for row in batch:
                try:
                    self._try_insert([row])
                except Exception as row_exc:
                    self.dropped += 1
                    logger.error("cost ledger lost request %s: %s", row.request_id, row_exc)
        if count:
            self._finish(len(batch))

    def _retry_in_memory(self, batch: list[Any]) -> None:
        deadline = time.monotonic() + self.retry_for_s
        while time.monotonic() < deadline:
            time.sleep(min(self._backoff, max(0.0, deadline - time.monotonic())))
            self._backoff = min(self._backoff * 2, BACKOFF_S[1])
            try:
                self._try_insert(batch)
                return
            except Exception as exc:
                self._failed(exc)
        self.dropped += len(batch)
        logger.error(
            "cost ledger dropped %d rows after %.0fs of database errors (no spill folder): %s",
            len(batch), self.retry_for_s, self.last_error,
        )  # fmt: skip

    def _replay(self) -> None:
        """Move our spilled rows into the database, if it is back and the backoff allows."""
        assert self.spill is not None
        if time.monotonic() < self._next_replay:
            return
        try:
            while self.spill.pending:  # one batch per commit: a crash repeats one batch at most
                with self.spill.take(BATCH_SIZE) as rows:
                    if rows:
                        self._try_insert(rows)
        except Exception as exc:  # stays on disk; try again later
            self._failed(exc)
            self._next_replay = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_S[1])
            return
        logger.info("cost ledger: the database is back, spilled rows replayed")

    def _replay_abandoned(self) -> None:
        assert self.spill is not None
        for path in self.spill.abandoned():
            try:
                with self.spill.adopt(path) as rows:
                    if rows:
                        for start in range(0, len(rows), BATCH_SIZE):
                            self._try_insert(rows[start : start + BATCH_SIZE])
                        logger.warning("cost ledger replayed %d rows from %s", len(rows), path)
            except Exception as exc:  # left in place for the next start
                logger.error("cost ledger could not replay %s yet: %s", path, exc)
        self.spill.sweep_locks()

    def _failed(self, exc: Exception) -> None:
        if self.last_error is None:
            logger.error("cost ledger database unavailable: %s", exc)
        self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def _try_insert(self, rows: list[Any]) -> None:
        self._busy_since = time.monotonic()
        try:
            self._insert(rows)
        finally:
            self._busy_since = None
        if self.last_error is not None:
            logger.info("cost ledger database reachable again")
        self.last_error = None
        self._backoff = BACKOFF_S[0]
        self._next_replay = 0.0


def _drain(q: queue.Queue[Any]) -> list[Any]:
    items: list[Any] = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items
