"""`index build --engine ray` against a real two-node Ray cluster on loopback.

The module starts one cluster for all its tests (Ray takes seconds to start on two cores):
``ray start --head`` and a second node joining it with ``ray start --address``, each with
one CPU, in a short temp dir; this process connects as the driver. Teardown kills the
cluster's processes by pid (each carries a marker variable in its environment; nothing
else on the machine is touched).

- the ray engine builds the same chunks, vectors (within 1e-5) and search results as the
  local engine;
- an embedding actor killed mid-build is restarted and its batches retried (a complete
  index is published), or with no retries left the build fails with a clear error and
  the published version, checksums intact, keeps serving;
- an incremental ray build embeds only the changed file's chunks, and reads each file
  once (in the publishing process, which sends the changed file's bytes to a worker);
- a local build never imports Ray; a missing Ray or an unreachable address is a one-line
  error that publishes nothing.

Two real nodes rather than ``ray.init`` with several workers: ``ray start`` runs here, and
only a second raylet shows that work leaves the publishing node. The nodes listen on
127.0.0.1 only, with Ray's token authentication off (see the fixture).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from assistant.factory import make_embedder as factory_embedder
from assistant.index import (
    EMBEDDINGS,
    MANIFEST,
    VERSIONS,
    Manifest,
    current_version,
    list_versions,
    load_embeddings,
    verify_files,
)
from assistant.retrieval import HybridRetriever
from assistant.searcher import IndexSearcher
from assistant.settings import Settings
from indexing.ray_engine import RayBuildError, RayEngine
from tests.conftest import REPO, free_port
from tests.indexing.minicorpus import (
    build,
    corpus_reads,
    opened_files,
    published_chunks,
    write_corpus,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARKER = "ASSISTANT_TEST_RAY_CLUSTER"  # in the environment of every process of the cluster
CHUNK_SIZE = 64  # ~30 chunks from the mini corpus: several batches of BATCH
BATCH = 4
QUERIES = ["what does dropout do", "ridge regression penalty", "epsilon exploration episode"]
# The same embedder on both engines: ONNX float32, whose vectors do not depend on the
# batch a text is embedded in. (The default int8 backend's do, slightly: dynamic
# quantisation scales a batch's activations together, so two engines that batch
# differently agree to cosine ~0.98, not to float tolerance; see test_embeddings_onnx.)
make_embedder = partial(factory_embedder, Settings(embedding_backend="onnx"))


@pytest.fixture(scope="module")
def embedder() -> Any:
    """This module's local engine: the actors' embedder, in this process."""
    return make_embedder()


def ray_start(args: list[str], env: dict[str, str]) -> None:
    ray = Path(sys.executable).with_name("ray")
    ports = [
        f"--{name}={free_port()}"
        for name in (
            "metrics-export-port",
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "runtime-env-agent-port",
        )
    ]
    cmd = [
        str(ray),
        "start",
        *args,
        "--num-cpus=1",
        "--object-store-memory=80000000",
        "--node-ip-address=127.0.0.1",
        "--disable-usage-stats",
        *ports,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` failed:\n{proc.stdout}\n{proc.stderr}")


def cluster_processes(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER) == marker:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


@dataclass(frozen=True)
class Cluster:
    address: str  # the head's GCS, HOST:PORT
    marker: str  # the value of MARKER in its processes' environment (its temp dir)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    """Two nodes of one CPU each, this process connected as the driver."""
    import ray

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are long
    # Ray reads RAY_AUTH_MODE when it is first imported, so this driver cannot be switched
    # to token authentication here; the nodes are told the driver's default (off) rather
    # than left to a default that differs between Ray versions and ~/.ray/auth_token.
    env = {
        **os.environ,
        MARKER: temp,
        "PYTHONPATH": str(REPO),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
    }
    port = free_port()
    address = f"127.0.0.1:{port}"
    try:
        ray_start(
            [
                "--head",
                f"--port={port}",
                f"--temp-dir={temp}",
                f"--ray-client-server-port={free_port()}",
                "--include-dashboard=false",
            ],
            env,
        )
        ray_start([f"--address={address}"], env)
        ray.init(address=address, logging_level="WARNING")
        alive = [n for n in ray.nodes() if n["Alive"]]
        assert len(alive) == 2, alive
        yield Cluster(address, temp)
    finally:
        ray.shutdown()
        for proc in cluster_processes(temp):
            try:
                proc.kill()
            except psutil.Error:
                pass
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def local_built(embedder, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """The mini corpus built by the local engine (the reference; read-only)."""
    root = tmp_path_factory.mktemp("ray-local")
    corpus = write_corpus(root / "corpus", long_sentences=40)
    build(embedder, corpus, root / "index", chunk_size=CHUNK_SIZE)
    return corpus, root / "index"


@pytest.fixture(scope="module")
def ray_built(
    embedder,
    ray_cluster: Cluster,
    local_built: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, Any]:  # type: ignore[no-untyped-def]
    """The same corpus built by the ray engine (two actors, one per node; read-only)."""
    root = tmp_path_factory.mktemp("ray-built")
    corpus = root / "corpus"
    shutil.copytree(local_built[0], corpus)
    engine = RayEngine(make_embedder, batch_size=BATCH, actors=2)
    report = build(embedder, corpus, root / "index", chunk_size=CHUNK_SIZE, engine=engine)
    return corpus, root / "index", report


def vectors_of(index_dir: Path) -> np.ndarray:
    return load_embeddings(index_dir / VERSIONS / str(current_version(index_dir)) / EMBEDDINGS)


def manifest_of(index_dir: Path) -> Manifest:
    return Manifest.read(index_dir / VERSIONS / str(current_version(index_dir)) / MANIFEST)


def search_results(embedder: Any, index_dir: Path) -> list[list[tuple[str, float]]]:
    searcher = IndexSearcher(embedder, HybridRetriever(), index_dir=index_dir)
    searcher.reload()
    return [
        [(h.chunk.chunk_id, round(h.score, 4)) for h in searcher.search(q, 5)[0]] for q in QUERIES
    ]


def assert_intact(index_dir: Path, version: str) -> None:
    """``version`` is published, every file matches its checksum, nothing half-written."""
    assert current_version(index_dir) == version
    path = index_dir / VERSIONS / version
    verify_files(path, Manifest.read(path / MANIFEST))
    assert not list(index_dir.glob("tmp-*"))


def copy_index(src: tuple[Path, ...], dest: Path) -> tuple[Path, Path]:
    shutil.copytree(src[0], dest / "corpus")
    shutil.copytree(src[1], dest / "index", symlinks=True)
    return dest / "corpus", dest / "index"


# --- (a) the same index --------------------------------------------------------------


def test_ray_and_local_engines_build_the_same_index(embedder, local_built, ray_built) -> None:  # type: ignore[no-untyped-def]
    _, local_dir = local_built
    _, ray_dir, report = ray_built
    assert report.published and report.chunks > 6 * BATCH and report.embedded == report.chunks
    assert published_chunks(ray_dir) == published_chunks(local_dir)
    np.testing.assert_allclose(vectors_of(ray_dir), vectors_of(local_dir), atol=1e-5, rtol=0)
    assert search_results(embedder, ray_dir) == search_results(embedder, local_dir)
    local_m, ray_m = manifest_of(local_dir), manifest_of(ray_dir)
    assert (ray_m.stats["engine"], local_m.stats["engine"]) == ("ray", "local")
    assert ray_m.sources == local_m.sources and ray_m.fingerprints == local_m.fingerprints
    assert (
        ray_m.stats["files"]
        == local_m.stats["files"]
        == {"parsed": 3, "unchanged": 0, "touched": 0}
    )
    assert ray_m.embed_tokens == local_m.embed_tokens


# --- (b) a worker killed mid-build -------------------------------------------------------


def kill_actor_at_first_batch(marker: str, killed: list[int]) -> Any:
    """A progress callback: at the first embedded batch, SIGKILL the embedding actor."""

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "embed" or killed:
            return
        assert done < total  # batches are still queued on the actor
        actors = [
            p
            for p in cluster_processes(marker)
            if p.cmdline()[:1] and p.cmdline()[0].startswith("ray::EmbedActor")
        ]
        assert len(actors) == 1, [p.cmdline() for p in actors]
        killed.append(actors[0].pid)
        os.kill(actors[0].pid, signal.SIGKILL)

    return progress


def test_a_killed_embedding_actor_is_restarted_and_the_build_completes(
    embedder, ray_cluster: Cluster, local_built, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = copy_index(local_built, tmp_path)
    before = current_version(index_dir)
    killed: list[int] = []
    engine = RayEngine(make_embedder, batch_size=BATCH, actors=1, max_retries=2)
    progress = kill_actor_at_first_batch(ray_cluster.marker, killed)
    report = build(
        embedder,
        corpus,
        index_dir,
        chunk_size=CHUNK_SIZE,
        full=True,
        engine=engine,
        progress=progress,
    )
    assert killed and report.published and report.version != before
    assert_intact(index_dir, report.version)
    assert report.embedded == report.chunks == len(published_chunks(local_built[1]))
    np.testing.assert_allclose(vectors_of(index_dir), vectors_of(local_built[1]), atol=1e-5, rtol=0)
    assert (
        not psutil.pid_exists(killed[0])
        or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    )


def test_a_killed_actor_without_retries_fails_cleanly_and_the_old_version_serves(
    embedder, ray_cluster: Cluster, local_built, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = copy_index(local_built, tmp_path)
    before = current_version(index_dir)
    assert before is not None
    versions = list_versions(index_dir)
    killed: list[int] = []
    engine = RayEngine(make_embedder, batch_size=BATCH, actors=1, max_retries=0)
    progress = kill_actor_at_first_batch(ray_cluster.marker, killed)
    with pytest.raises(RayBuildError) as info:
        build(
            embedder,
            corpus,
            index_dir,
            chunk_size=CHUNK_SIZE,
            full=True,
            engine=engine,
            progress=progress,
        )
    assert killed
    message = str(info.value)
    assert "embedding on the Ray cluster failed after 0 retries" in message
    assert "nothing was published" in message and "\n" not in message
    assert_intact(index_dir, before)
    assert list_versions(index_dir) == versions
    # The lock is free again: a local build right after runs (and finds the corpus unchanged).
    after = build(embedder, corpus, index_dir, chunk_size=CHUNK_SIZE)
    assert after.unchanged and after.version == before


# --- (c) incremental --------------------------------------------------------------------


def test_an_incremental_ray_build_embeds_only_the_changed_file(
    embedder, ray_built, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = copy_index(ray_built[:2], tmp_path)
    old = {c.content_hash for c in published_chunks(index_dir)}
    path = corpus / "notes" / "tools.txt"
    path.write_text(
        path.read_text(encoding="utf-8") + "\nA tag names one commit for good.\n", encoding="utf-8"
    )
    engine = RayEngine(make_embedder, batch_size=BATCH)
    with opened_files() as paths:
        report = build(embedder, corpus, index_dir, chunk_size=CHUNK_SIZE, engine=engine)
    # Each file read once, here: the edited one's bytes went to a worker as they were hashed.
    once = {"guide.md": 1, "notes/phase-7-rl.md": 1, "notes/tools.txt": 1}
    assert corpus_reads(paths, corpus) == once
    new = [c for c in published_chunks(index_dir) if c.content_hash not in old]
    assert report.published and report.embedded == len(new) >= 1
    assert {c.source for c in new} == {"notes/tools.txt"}
    assert manifest_of(index_dir).stats["files"] == {"parsed": 1, "unchanged": 2, "touched": 0}
    # The same edit built locally: the same vectors.
    local_corpus, local_dir = copy_index(ray_built[:2], tmp_path / "local")
    shutil.copy(path, local_corpus / "notes" / "tools.txt")
    assert build(embedder, local_corpus, local_dir, chunk_size=CHUNK_SIZE).embedded == len(new)
    np.testing.assert_allclose(vectors_of(index_dir), vectors_of(local_dir), atol=1e-5, rtol=0)


# --- the CLI: no Ray unless asked, clear errors --------------------------------------------


def run_cli(args: list[str], tmp: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """`assistant ARGS` in a fresh interpreter; its last stderr line says whether Ray was imported."""
    code = (
        "import sys\n" + prelude + "from assistant.cli import main\n"
        "try:\n    main(sys.argv[1:], standalone_mode=False)\n"
        "except SystemExit as exc:\n    sys.exit(exc.code)\n"
        "print(json.dumps({'ray_imported': 'ray' in sys.modules}), file=sys.stderr)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ASSISTANT_CHUNK_SIZE": str(CHUNK_SIZE),  # as the index was built: nothing to embed
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp / 'ledger.db'}",
    }
    return subprocess.run(
        [sys.executable, "-c", "import json\n" + code, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=REPO,
        check=False,
    )


def test_a_local_build_never_imports_ray(ray_built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = copy_index(ray_built[:2], tmp_path)
    proc = run_cli(
        ["index", "build", "--corpus", str(corpus), "--index-dir", str(index_dir), "--json"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == {"ray_imported": False}
    assert json.loads(proc.stdout)["published"] is True


def test_missing_ray_or_an_unreachable_cluster_is_a_clear_error(ray_built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = copy_index(ray_built[:2], tmp_path)
    before = current_version(index_dir)
    base = [
        "index",
        "build",
        "--corpus",
        str(corpus),
        "--index-dir",
        str(index_dir),
        "--engine",
        "ray",
    ]
    missing = run_cli(base, tmp_path, prelude="sys.modules['ray'] = None  # as if not installed\n")
    assert missing.returncode != 0
    assert (
        "--engine ray needs Ray, which is not installed: pip install 'study-assistant[ray]'"
        in missing.stderr
    )
    dead = run_cli([*base, "--ray-address", f"127.0.0.1:{free_port()}"], tmp_path)
    assert dead.returncode != 0
    assert "no Ray cluster answers at 127.0.0.1:" in dead.stderr
    local = run_cli([*base[:-2], "--ray-address", "127.0.0.1:6379"], tmp_path)
    assert local.returncode == 2
    assert "error: --ray-address and --ray-actors need --engine ray" in local.stderr
    assert_intact(index_dir, str(before))
