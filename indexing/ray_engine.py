"""The build's load/chunk and embed stages on a Ray cluster (``index build --engine ray``).

- Load + chunk: this process takes the local engine's steps (``indexing.load_stage``): it
  reads each file once, for its fingerprint, and reuses the previous version's chunks of
  an unchanged file; every other file's bytes (those same bytes) go to a Ray task that
  parses and chunks them on any node. URL sources are fetched here, where the HTTP cache
  lives, and chunked remotely. Results are put back in source order.
- Embed: the missing texts, length-sorted as the local engine sorts them, in batches over a
  pool of actors that each load the embedder once (one GPU each when the cluster has
  GPUs), at most two batches queued per actor so fast nodes take more. A dead actor is
  restarted and its batches retried up to ``max_retries`` times; past that the build
  fails with ``RayBuildError`` before anything is written, and ``current`` never moves.

Plain tasks and actors, not Ray Data: the work is a list of files and a list of batches
that must come back to one process in order, which Ray Data would only wrap.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from assistant.errors import AssistantError, ConfigError
from assistant.types import Chunk
from indexing.chunking import TokenChunker
from indexing.embed_stage import EMBED_BATCH, plan_missing
from indexing.fingerprints import Previous
from indexing.load_stage import Load, Loaded, Parsed, parse_and_chunk, prepare
from indexing.ray_work import EmbedActor
from indexing.sources import SourceItem

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
IN_FLIGHT_PER_ACTOR = 2  # one batch running, one queued: no actor idles between batches


class RayBuildError(AssistantError):
    """The Ray cluster failed the build (workers lost past their retries): nothing published."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "--engine ray needs Ray, which is not installed: "
            "pip install 'study-assistant[ray]' (or use the default --engine local)"
        ) from exc
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, naming the address, rather than in Ray's minute of retries."""
    parts = urlsplit(address if "://" in address else f"ray-gcs://{address}")
    if parts.hostname is None or parts.port is None:
        raise ConfigError(f"--ray-address must be HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one "
            "(`ray start --head`) or pass the head's address as --ray-address"
        ) from exc


def _summary(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


class RayEngine:
    """Runs the load/chunk and embed stages as Ray tasks and actors; see the module docstring.

    ``address``: a head's ``HOST:PORT``, ``ray://HOST:PORT`` (Ray Client), ``auto``, or None
    (``RAY_ADDRESS`` if set, else a Ray instance started for this process).
    ``make_embedder`` builds the embedder inside each actor (it must pickle).
    """

    name = "ray"

    def __init__(
        self,
        make_embedder: Callable[[], Any],
        *,
        address: str | None = None,
        actors: int | None = None,
        batch_size: int = EMBED_BATCH,
        max_retries: int = 2,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if actors is not None and actors < 1:
            raise ConfigError(f"--ray-actors must be >= 1, got {actors}")
        self.ray = _import_ray()
        self.make_embedder = make_embedder
        self.actors = actors
        self.batch_size = batch_size
        self.max_retries = max_retries
        self._owns = not self.ray.is_initialized()
        if self._owns:
            if address and address not in ("auto", "local"):
                _check_reachable(address)
            try:
                self.ray.init(address=address, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot join the Ray cluster at {address}: {exc}") from exc

    def close(self) -> None:
        """Disconnect, if this engine connected (a caller's own connection stays open)."""
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()

    # --- load + chunk ------------------------------------------------------------------
    def load_and_chunk(
        self,
        items: list[SourceItem],
        previous: Previous,
        chunker: TokenChunker,
        load: Load,
        *,
        max_bytes: int,
        progress: Progress | None = None,
    ) -> Loaded:
        """The local engine's steps (``indexing.load_stage``), the parsing in Ray tasks."""
        ray = self.ray
        task = ray.remote(parse_and_chunk).options(max_retries=self.max_retries)
        chunker_ref = ray.put(chunker)
        results: list[Parsed | None] = [None] * len(items)
        fingerprints: list[dict[str, Any] | None] = [None] * len(items)
        pending: dict[Any, int] = {}  # ref -> item number
        for i, item in enumerate(items):
            fingerprints[i], work = prepare(item, previous, load, max_bytes)
            if isinstance(work, Parsed):  # reused or skipped
                results[i] = work
            else:
                pending[task.remote(work, chunker_ref)] = i
        done = len(items) - len(pending)
        if progress:
            progress("load", done, len(items))
        waiting = list(pending)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            results[pending[ready[0]]] = self._get(ready[0], "loading and chunking")
            done += 1
            if progress:
                progress("load", done, len(items))
        out = Loaded()
        for item, parsed, fp in zip(items, results, fingerprints, strict=True):
            assert parsed is not None
            out.add(item.source, parsed, fp)
        return out

    # --- embed ---------------------------------------------------------------------------
    def embed_missing(
        self,
        chunks: list[Chunk],
        known: dict[str, np.ndarray],
        embedder: Any,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, int, int]:
        vectors, todo, hashes, texts = plan_missing(chunks, known, embedder.dimension)
        embedded = sum(len(rows) for rows in todo.values())
        if not hashes:
            return vectors, 0, 0  # nothing to embed: no actor, no model load
        size = self.batch_size
        batches = [hashes[s : s + size] for s in range(0, len(hashes), size)]
        actors = self._start_actors(len(batches))
        tokens = done = 0
        in_flight: dict[Any, tuple[Any, int]] = {}  # ref -> (actor, batch number)
        queue = list(range(len(batches)))

        def submit(actor: Any) -> None:
            if queue:
                b = queue.pop(0)
                in_flight[actor.embed.remote([texts[h] for h in batches[b]])] = (actor, b)

        try:
            for actor in actors:
                for _ in range(IN_FLIGHT_PER_ACTOR):
                    submit(actor)
            while in_flight:
                ready, _ = self.ray.wait(list(in_flight), num_returns=1)
                actor, b = in_flight.pop(ready[0])
                out, n_tokens = self._get(ready[0], "embedding")
                for h, vec in zip(batches[b], out, strict=True):
                    vectors[todo[h]] = vec
                tokens += n_tokens
                done += len(batches[b])
                submit(actor)
                if progress:
                    progress("embed", done, len(hashes))
        finally:
            for actor in actors:
                self.ray.kill(actor)
        return vectors, embedded, tokens

    def _start_actors(self, n_batches: int) -> list[Any]:
        resources = self.ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        per_actor = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
        fits = gpus if gpus else max(1, int(resources.get("CPU", 1)))
        n = min(n_batches, self.actors or fits)
        cls = self.ray.remote(EmbedActor).options(
            **per_actor,
            max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )
        logger.info("embedding %d batches on %d Ray actors (%d GPUs)", n_batches, n, gpus)
        return [cls.remote(self.make_embedder) for _ in range(n)]

    def _get(self, ref: Any, stage: str) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            raise RayBuildError(
                f"{stage} on the Ray cluster failed after {self.max_retries} retries "
                f"({type(exc).__name__}: {_summary(exc)}); nothing was published, the "
                "previous index version keeps serving"
            ) from exc
