"""`index watch` (issue 16): a saved edit is published by the watching process, bounded wait."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from assistant.errors import AssistantError
from indexing.build import BuildOptions, BuildReport, build_index
from indexing.watch import relevant, watch_corpus
from tests.indexing.minicorpus import published_chunks, write_corpus

WAIT_S = 240.0  # generous: a busy 2-core machine; a pass usually takes a second or two


def test_relevant_ignores_the_index_and_editor_files(tmp_path: Path) -> None:
    index = tmp_path / "index"
    assert relevant(tmp_path / "notes" / "a.md", [index])
    assert relevant(tmp_path / "sources.toml", [index])
    assert not relevant(index / "versions" / "v1" / "chunks.jsonl", [index])
    assert not relevant(tmp_path / ".a.md.swp", [index])
    assert not relevant(tmp_path / "a.md~", [index])
    assert not relevant(tmp_path / "image.png", [index])


def test_watch_republishes_after_an_edit_and_survives_a_bad_one(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = corpus / ".index"  # inside the corpus: its own writes must not trigger builds
    results: queue.Queue[tuple[BuildReport | AssistantError, list[str]]] = queue.Queue()
    stop = threading.Event()

    def build() -> BuildReport:
        return build_index(BuildOptions(corpus=corpus, index_dir=index_dir), embedder)

    thread = threading.Thread(
        target=watch_corpus,
        args=(corpus, build, lambda r, c: results.put((r, c))),
        kwargs={"ignore": [index_dir], "debounce_ms": 200, "stop": stop},
        daemon=True,
    )
    thread.start()
    try:
        first, changed = results.get(timeout=WAIT_S)
        assert isinstance(first, BuildReport) and first.published and changed == []

        guide = corpus / "guide.md"
        guide.write_text(
            guide.read_text() + "\n\nEarly stopping halts training at the best epoch.\n"
        )
        second, changed = results.get(timeout=WAIT_S)
        assert isinstance(second, BuildReport), second
        assert second.version != first.version and any("guide.md" in p for p in changed)
        assert any("Early stopping" in c.text for c in published_chunks(index_dir))
        assert 0 < second.embedded < second.chunks

        # A broken sources.toml: reported, the published version stays, the watch goes on.
        (corpus / "sources.toml").write_text("[[source]]\npath = 3\n")
        bad, _ = results.get(timeout=WAIT_S)
        assert isinstance(bad, AssistantError)
        assert any("Early stopping" in c.text for c in published_chunks(index_dir))
        (corpus / "sources.toml").unlink()
        third, _ = results.get(timeout=WAIT_S)
        assert isinstance(third, BuildReport) and third.published
        with pytest.raises(queue.Empty):  # the index's own writes triggered nothing
            results.get(timeout=1.0)
    finally:
        stop.set()
        thread.join(timeout=WAIT_S)
    assert not thread.is_alive()
