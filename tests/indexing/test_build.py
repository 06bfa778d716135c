"""build_index: incremental re-embedding, atomic publish, the build lock, pruning, the eval floor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import BuildLockedError, EvalFloorError
from assistant.index import (
    CHUNKS,
    EMBEDDINGS,
    MANIFEST,
    VERSIONS,
    Manifest,
    current_version,
    list_versions,
    load_embeddings,
    read_chunks,
    read_published,
    sha256_file,
)
from assistant.snapshot import IndexSnapshot
from indexing.build import LOCK_FILE, BuildOptions, BuildReport, build_index
from tests.conftest import REPO
from tests.indexing.minicorpus import (
    CountingEmbedder,
    Template,
    build,
    published_chunks,
    write_corpus,
)

STAGES = {"load", "chunk", "embed", "write", "total"}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture(scope="module")
def template(embedder, tmp_path_factory: pytest.TempPathFactory) -> Template:  # type: ignore[no-untyped-def]
    """The mini corpus built once for the module (read-only: tests take a copy)."""
    return Template(embedder, tmp_path_factory.mktemp("build-template"))


@pytest.fixture
def prebuilt(template: Template, tmp_path: Path) -> tuple[Path, Path, BuildReport]:
    """This test's own corpus and index, as if it had just built the corpus once."""
    corpus, index_dir = template.copy(tmp_path / "own")
    return corpus, index_dir, template.report


def vectors_by_hash(index_dir: Path) -> dict[str, np.ndarray]:
    version = current_version(index_dir)
    path = index_dir / VERSIONS / str(version)
    chunks = read_chunks(path / CHUNKS)
    vectors = load_embeddings(path / EMBEDDINGS)
    return {c.content_hash: vectors[i] for i, c in enumerate(chunks)}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def add_line(corpus: Path, n: int) -> None:
    """A new last paragraph in guide.md: a build after it has something to publish."""
    guide = corpus / "guide.md"
    guide.write_text(guide.read_text(encoding="utf-8") + f"\n\nRevision note {n}.\n")


# --- first build and its report ----------------------------------------------------------


def test_first_build_embeds_everything_and_reports_it(
    embedder, corpus: Path, index_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    chunks = published_chunks(index_dir)
    assert report.published and current_version(index_dir) == report.version
    assert report.chunks == len(chunks) >= 10
    assert report.embedded == report.chunks and report.reused == 0
    assert report.full_rebuild_reason == "no previous index"
    assert sorted(counting.texts) == sorted(c.embed_text() for c in chunks)
    assert report.embed_tokens == sum(embedder.count_tokens(t) for t in counting.texts)
    assert (report.files, report.urls, report.skipped) == (3, 0, [])
    assert set(report.seconds) == STAGES
    assert report.seconds["total"] >= report.seconds["embed"] > 0

    data = report.to_json()
    assert set(data) == {
        "version", "published", "files", "urls", "chunks", "embedded", "reused",
        "embed_tokens", "skipped", "seconds", "full_rebuild_reason", "eval", "unchanged",
        "files_read",
    }  # fmt: skip
    assert data["unchanged"] is False
    assert data["files_read"] == {"parsed": 3, "unchanged": 0, "touched": 0}
    json.dumps(data)  # plain JSON


def test_manifest_describes_the_version(embedder, template: Template) -> None:  # type: ignore[no-untyped-def]
    report = template.report
    path = template.index_dir / VERSIONS / report.version
    m = Manifest.read(path / MANIFEST)
    assert m.version == report.version
    assert m.model == {
        "name": embedder.model_name,
        "dimension": 384,
        "max_seq_length": embedder.max_seq_length,
    }
    assert m.chunking == {
        "chunk_size": 200,
        "chunk_overlap": 32,
        "unit": "tokens",
        "splitter": "recursive-markdown-v1",
    }
    assert m.index_type == "flat"
    assert m.counts == {"chunks": report.chunks, "sources": 3, "embedded": report.chunks,
                        "reused": 0, "skipped": 0}  # fmt: skip
    assert set(m.sources) == {"guide.md", "notes/phase-7-rl.md", "notes/tools.txt"}
    assert all(len(h) == 64 for h in m.sources.values())
    on_disk = {f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_file()} - {MANIFEST}
    assert set(m.files) == on_disk
    assert all(sha256_file(path / rel) == digest for rel, digest in m.files.items())
    assert m.embed_tokens == report.embed_tokens


def test_url_sources_without_a_fetcher_are_skipped(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, _ = prebuilt
    with (corpus / "sources.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[source]]\nurl = "https://example.org/notes.html"\n')
    report = build(embedder, corpus, index_dir)
    assert (report.files, report.urls) == (3, 1)
    assert report.skipped == [("https://example.org/notes.html", "URL sources need a fetcher")]
    assert report.published and report.embedded == 0
    assert Manifest.read(index_dir / VERSIONS / report.version / MANIFEST).counts["skipped"] == 1


# --- incremental ------------------------------------------------------------------------


def test_identical_rebuild_embeds_nothing(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, first = prebuilt
    before = published_chunks(index_dir)
    counting = CountingEmbedder(embedder)
    again = build(counting, corpus, index_dir)
    assert counting.calls == 0
    assert (again.embedded, again.reused, again.embed_tokens) == (0, first.chunks, 0)
    assert again.full_rebuild_reason is None
    # The same chunks as the published version: nothing is written or published.
    assert again.unchanged and not again.published and again.version == first.version
    assert again.files_read == {"parsed": 0, "unchanged": 3, "touched": 0}
    assert list_versions(index_dir) == [first.version] == [current_version(index_dir)]
    assert not list(index_dir.glob("tmp-*"))
    # --full always writes a new version, from the same chunks.
    full = build(embedder, corpus, index_dir, full=True)
    assert full.published and not full.unchanged and full.version != first.version
    assert published_chunks(index_dir) == before


def test_changing_one_paragraph_embeds_only_its_chunk(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, _ = prebuilt
    before = vectors_by_hash(index_dir)
    edit(
        corpus / "guide.md",
        "At inference time every unit is kept",
        "With inverted dropout, at inference time every unit is kept",
    )
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    assert report.embedded == 1 and len(counting.texts) == 1
    assert "inverted dropout" in counting.texts[0]
    assert report.reused == report.chunks - 1
    after = vectors_by_hash(index_dir)
    new = set(after) - set(before)
    assert len(new) == 1
    for h in set(after) & set(before):
        assert np.array_equal(after[h], before[h])  # reused bit for bit
    (h,) = new
    fresh = embedder.embed_documents(counting.texts)[0]
    assert np.allclose(after[h], fresh, atol=1e-5)


def test_editing_a_long_section_embeds_exactly_the_changed_windows(
    embedder, tmp_path: Path, index_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus = write_corpus(tmp_path / "corpus", long_sentences=40)
    build(embedder, corpus, index_dir, chunk_size=64, chunk_overlap=16)
    old = {c.content_hash for c in published_chunks(index_dir)}
    edit(corpus / "notes" / "phase-7-rl.md", "Episode 30 ", "Episode thirty ")
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir, chunk_size=64, chunk_overlap=16)
    chunks = published_chunks(index_dir)
    changed = [c for c in chunks if c.content_hash not in old]
    assert 1 <= len(changed) <= 2  # the window with the sentence (and one overlapping it)
    assert report.embedded == len(changed) == len(counting.texts)
    assert sorted(counting.texts) == sorted(c.embed_text() for c in changed)
    assert report.reused == len(chunks) - len(changed)


def test_renaming_a_file_reuses_its_vectors(embedder, tmp_path: Path, index_dir: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = write_corpus(tmp_path / "corpus", sources_toml=False)
    first = build(embedder, corpus, index_dir)
    old = {c.chunk_id: c for c in published_chunks(index_dir)}
    (corpus / "notes" / "phase-7-rl.md").rename(corpus / "notes" / "reinforcement.md")
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    assert counting.calls == 0
    assert (report.embedded, report.reused, report.chunks) == (0, first.chunks, first.chunks)
    moved = [c for c in published_chunks(index_dir) if c.source == "notes/reinforcement.md"]
    assert moved and all(c.chunk_id not in old for c in moved)  # ids name the source
    assert all(c.phases == () for c in moved)  # the phase came from the old name
    assert all(c.url and c.url.startswith("notes/reinforcement.md#") for c in moved)


def test_identical_chunks_are_embedded_once(embedder, corpus: Path, index_dir: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(corpus / "guide.md", corpus / "guide-copy.md")
    with (corpus / "sources.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[source]]\npath = "guide-copy.md"\n')
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    chunks = published_chunks(index_dir)
    hashes = {c.content_hash for c in chunks}
    assert len(counting.texts) == len(hashes) < len(chunks) == report.embedded
    vectors = vectors_by_hash(index_dir)
    copies = [c for c in chunks if c.source == "guide-copy.md"]
    assert copies and all(np.any(vectors[c.content_hash]) for c in copies)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"model_name": "another-model"},
            "embedding model changed ({model} -> another-model)",
        ),
        ({"chunk_size": 128}, "chunking settings changed"),
        ({"chunk_overlap": 16}, "chunking settings changed"),
        ({"full": True}, "--full"),
    ],
)
def test_model_or_chunking_change_or_full_re_embeds_everything(
    embedder, prebuilt: tuple[Path, Path, BuildReport], change: dict, reason: str
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, _ = prebuilt
    counting = CountingEmbedder(embedder, model_name=change.pop("model_name", None))
    report = build(counting, corpus, index_dir, **change)
    assert report.full_rebuild_reason == reason.format(model=embedder.model_name)
    assert report.embedded == report.chunks == len(counting.texts) and report.reused == 0


def test_a_damaged_previous_version_is_not_reused(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, first = prebuilt
    npy = index_dir / VERSIONS / first.version / EMBEDDINGS
    data = bytearray(npy.read_bytes())
    data[-100:] = bytes(100)  # zeroes in the vectors; the file still loads
    npy.write_bytes(bytes(data))
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    assert report.full_rebuild_reason is not None
    assert "embeddings.npy does not match its checksum" in report.full_rebuild_reason
    assert report.embedded == report.chunks == len(counting.texts)
    IndexSnapshot.load(index_dir)  # the new version verifies


def test_a_garbage_current_file_is_repaired_by_the_next_build(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, _ = prebuilt
    (index_dir / "current").write_text("../../etc\n")
    report = build(embedder, corpus, index_dir)
    assert report.full_rebuild_reason is not None
    assert "invalid version" in report.full_rebuild_reason
    assert current_version(index_dir) == report.version


# --- versions, pruning, the eval floor --------------------------------------------------


def test_keep_versions_prunes_the_oldest_and_keeps_current(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, _ = prebuilt
    built = []
    for n in range(4):
        add_line(corpus, n)
        built.append(build(embedder, corpus, index_dir, keep_versions=2).version)
    assert built == sorted(built)  # version ids sort in build order
    assert list_versions(index_dir) == built[-2:]
    assert current_version(index_dir) == built[-1]
    # Nothing changed, keep_versions lowered: no new version, the older one pruned all the same.
    last = build(embedder, corpus, index_dir, keep_versions=1)
    assert last.unchanged and list_versions(index_dir) == [built[-1]] == [last.version]


def test_eval_floor_refuses_to_publish_and_keeps_the_old_version(
    embedder, prebuilt: tuple[Path, Path, BuildReport]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, first = prebuilt
    seen: list[Path] = []

    def evaluate(path: Path) -> dict[str, float]:
        seen.append(path)
        snap = IndexSnapshot.load(path.parent.parent, path.name)  # loadable before publish
        assert len(snap.chunks) == first.chunks
        return {"hit_rate@5": 0.5, "recall@5": 0.95}  # the floor is on the hit rate

    with pytest.raises(EvalFloorError) as info:
        build_index(
            BuildOptions(corpus=corpus, index_dir=index_dir),
            embedder,
            evaluate=evaluate,
            min_recall=0.9,
        )
    message = str(info.value)
    assert "hit_rate@5 = 0.500" in message and "0.900" in message
    assert f"{first.version} keeps serving" in message and "not published" in message
    assert current_version(index_dir) == first.version
    assert not seen[0].exists()  # the refused version is removed
    assert seen[0].name not in list_versions(index_dir)

    ok: BuildReport = build_index(
        BuildOptions(corpus=corpus, index_dir=index_dir),
        embedder,
        evaluate=lambda path: {"hit_rate@5": 0.95, "recall@5": 0.4, "mrr": 0.9},
        min_recall=0.9,
    )
    assert ok.published and ok.eval == {"hit_rate@5": 0.95, "recall@5": 0.4, "mrr": 0.9}
    assert current_version(index_dir) == ok.version


# --- crash safety and the lock (a real second process) --------------------------------


class Worker:
    """``tests.indexing.build_worker`` in a subprocess, paused at ``stage`` for ``hold_s``."""

    def __init__(self, corpus: Path, index_dir: Path, stage: str, hold_s: float) -> None:
        self.marker = index_dir.parent / f"worker-{stage}.marker"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.indexing.build_worker", str(corpus), str(index_dir),
             stage, str(self.marker), str(hold_s)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait_for_pause(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.marker.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited early:\n{self.proc.stderr.read()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail("worker did not reach its pause point")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=30)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


@pytest.mark.slow
@pytest.mark.integration
def test_a_build_killed_while_writing_leaves_the_old_version_serving(
    embedder, prebuilt: tuple[Path, Path, BuildReport], workers: list[Worker]
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir, first = prebuilt
    edit(corpus / "guide.md", "Dropout randomly", "Dropout (Srivastava et al.) randomly")
    worker = Worker(corpus, index_dir, "write", hold_s=600)
    workers.append(worker)
    worker.wait_for_pause()
    leftovers = list(index_dir.glob("tmp-*"))
    assert len(leftovers) == 1  # the dead build's half-written version
    worker.proc.kill()  # SIGKILL: no cleanup of any kind runs
    assert worker.proc.wait(timeout=30) == -9

    assert current_version(index_dir) == first.version
    assert list_versions(index_dir) == [first.version]
    snap = IndexSnapshot.load(index_dir, model_name=embedder.model_name)
    assert snap.version == first.version and len(snap.chunks) == first.chunks

    report = build(embedder, corpus, index_dir)
    assert report.published and report.embedded == 1  # the edit; the rest reused
    assert not list(index_dir.glob("tmp-*")) and not leftovers[0].exists()
    assert current_version(index_dir) == report.version
    assert IndexSnapshot.load(index_dir).version == report.version


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("stage", ["eval", "publish"])
def test_a_build_killed_before_publishing_never_pushes_out_the_published_version(
    embedder, prebuilt: tuple[Path, Path, BuildReport], workers: list[Worker], stage: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 11 item 10: killed during --eval or right after its move into versions/."""
    corpus, index_dir, first = prebuilt
    assert read_published(index_dir) == [first.version]
    edit(corpus / "guide.md", "Dropout randomly", "Dropout (Srivastava et al.) randomly")
    worker = Worker(corpus, index_dir, stage, hold_s=600)
    workers.append(worker)
    worker.wait_for_pause()
    worker.proc.kill()  # SIGKILL: no cleanup of any kind runs
    assert worker.proc.wait(timeout=30) == -9
    orphans = [v for v in list_versions(index_dir) if v != first.version]
    # Killed during eval: nothing was moved into versions/ yet.
    assert len(orphans) == (1 if stage == "publish" else 0)
    assert current_version(index_dir) == first.version
    assert read_published(index_dir) == [first.version]

    second = build(embedder, corpus, index_dir, keep_versions=2)
    # The never-published version is gone; the last good published one is kept.
    assert list_versions(index_dir) == [first.version, second.version]
    assert read_published(index_dir) == [first.version, second.version]
    assert not list(index_dir.glob("tmp-*"))
    add_line(corpus, 1)
    third = build(embedder, corpus, index_dir, keep_versions=2)
    assert list_versions(index_dir) == [second.version, third.version]
    assert current_version(index_dir) == third.version


@pytest.mark.slow
@pytest.mark.integration
def test_a_second_build_fails_at_once_while_the_first_holds_the_lock_or_waits(
    embedder, corpus: Path, index_dir: Path, workers: list[Worker]
) -> None:  # type: ignore[no-untyped-def]
    hold_s = 4.0
    worker = Worker(corpus, index_dir, "load", hold_s=hold_s)
    workers.append(worker)
    worker.wait_for_pause()
    paused_at = time.monotonic()

    t = time.monotonic()
    with pytest.raises(BuildLockedError) as info:
        build(embedder, corpus, index_dir)
    assert time.monotonic() - t < 2.0  # at once, not after the other build
    assert str(index_dir / LOCK_FILE) in str(info.value)
    assert "another `index build` is running" in str(info.value)
    assert "--wait" in str(info.value)
    assert current_version(index_dir) is None

    report = build(embedder, corpus, index_dir, lock_timeout_s=-1)
    assert time.monotonic() - paused_at >= hold_s - 0.5  # it waited for the worker
    out, err = worker.proc.communicate(timeout=120)
    assert worker.proc.returncode == 0, err
    theirs = json.loads(out.strip().splitlines()[-1])
    assert theirs["published"] and theirs["embedded"] == theirs["chunks"]
    # Ours ran after theirs, on the same corpus: their version is already what it would
    # publish, so it publishes nothing.
    assert report.unchanged and report.version == theirs["version"]
    assert report.embedded == 0 and report.reused == theirs["chunks"]
    assert list_versions(index_dir) == [theirs["version"]] == [current_version(index_dir)]
