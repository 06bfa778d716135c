"""Skip unchanged files (issue 16): fingerprints decide what is read, chunked and embedded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.index import MANIFEST, VERSIONS, Manifest, current_version
from tests.indexing.minicorpus import (
    CountingEmbedder,
    build,
    corpus_reads,
    opened_files,
    published_chunks,
    write_corpus,
)
from tests.support.embedders import default_embedder


def _manifest(index_dir: Path) -> Manifest:
    version = current_version(index_dir)
    assert version is not None
    return Manifest.read(index_dir / VERSIONS / version / MANIFEST)


@pytest.fixture
def built(embedder, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build(embedder, corpus, index_dir)
    return corpus, index_dir


def test_manifest_records_a_fingerprint_per_file(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    fps = _manifest(index_dir).fingerprints
    assert set(fps) == {"guide.md", "notes/phase-7-rl.md", "notes/tools.txt"}
    st = (corpus / "guide.md").stat()
    assert fps["guide.md"]["size"] == st.st_size
    assert fps["guide.md"]["mtime_ns"] == st.st_mtime_ns
    assert len(fps["guide.md"]["sha256"]) == 64


def test_unchanged_rebuild_embeds_nothing_and_never_loads_the_model(
    built: tuple[Path, Path],
) -> None:
    corpus, index_dir = built
    before = published_chunks(index_dir)
    fresh = default_embedder()  # lazy: nothing loaded yet
    counting = CountingEmbedder(fresh)
    report = build(counting, corpus, index_dir)
    assert report.unchanged and report.embedded == 0 and report.reused == len(before)
    assert counting.calls == 0
    assert not fresh.loaded, "an unchanged rebuild loaded the embedding model"
    assert [c.chunk_id for c in published_chunks(index_dir)] == [c.chunk_id for c in before]
    assert report.files_read == {"parsed": 0, "unchanged": 3, "touched": 0}


def test_one_edited_file_is_the_only_one_parsed(embedder, built: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = built
    guide = corpus / "guide.md"
    guide.write_text(guide.read_text() + "\n\nA new closing paragraph about dropout.\n")
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    assert _manifest(index_dir).stats["files"]["parsed"] == 1
    assert 0 < report.embedded < report.chunks
    assert any("dropout" in t for t in counting.texts)
    assert all(t.startswith("Study Guide") for t in counting.texts), counting.texts


def test_a_build_reads_each_file_once(embedder, built: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    """The bytes hashed for the fingerprint are the bytes parsed: no second read."""
    corpus, index_dir = built
    guide = corpus / "guide.md"
    guide.write_text(guide.read_text() + "\n\nA new closing paragraph about dropout.\n")
    once = {"guide.md": 1, "notes/phase-7-rl.md": 1, "notes/tools.txt": 1}
    for full, files in (
        (False, {"parsed": 1, "unchanged": 2, "touched": 0}),
        (True, {"parsed": 3, "unchanged": 0, "touched": 0}),
    ):
        with opened_files() as paths:
            assert build(embedder, corpus, index_dir, full=full).published
        assert _manifest(index_dir).stats["files"] == files
        assert corpus_reads(paths, corpus) == once


def test_same_size_edit_with_restored_mtime_is_detected(
    embedder,  # type: ignore[no-untyped-def]
    built: tuple[Path, Path],
) -> None:
    corpus, index_dir = built
    tools = corpus / "notes" / "tools.txt"
    st = tools.stat()
    text = tools.read_text()
    # Same length, different bytes; then put the old timestamps back.
    edited = text.replace("e", "E", 1)
    assert len(edited) == len(text) and edited != text
    tools.write_text(edited)
    os.utime(tools, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert tools.stat().st_size == st.st_size and tools.stat().st_mtime_ns == st.st_mtime_ns
    counting = CountingEmbedder(embedder)
    report = build(counting, corpus, index_dir)
    assert _manifest(index_dir).stats["files"]["parsed"] == 1
    assert report.embedded >= 1
    assert any("E" in t for t in counting.texts)


def test_touched_but_unchanged_file_is_not_parsed(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    guide = corpus / "guide.md"
    st = guide.stat()
    os.utime(guide, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    version = current_version(index_dir)
    report = build(default_embedder(), corpus, index_dir)
    assert report.embedded == 0
    assert report.files_read == {"parsed": 0, "unchanged": 3, "touched": 1}
    # Its chunks are the published ones: no new version for a new mtime (the next build
    # hashes the file again, as it hashes every file).
    assert report.unchanged and current_version(index_dir) == version


def test_changed_phases_in_sources_toml_rechunk_the_file(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    toml = corpus / "sources.toml"
    toml.write_text(toml.read_text().replace("phases = [3]", "phases = [4]"))
    report = build(default_embedder(), corpus, index_dir)
    assert _manifest(index_dir).stats["files"]["parsed"] >= 1
    assert report.embedded == 0  # same texts: vectors reused by content hash
    tools = [c for c in published_chunks(index_dir) if c.source == "notes/tools.txt"]
    assert tools and all(c.phases == (4,) for c in tools)


def test_full_rebuild_reads_everything(embedder, built: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = built
    report = build(embedder, corpus, index_dir, full=True)
    assert report.reused == 0 and report.full_rebuild_reason == "--full"
    assert _manifest(index_dir).stats["files"]["parsed"] == 3


def test_deleted_file_drops_its_chunks(built: tuple[Path, Path]) -> None:
    corpus, index_dir = built
    (corpus / "notes" / "tools.txt").unlink()
    toml = corpus / "sources.toml"
    lines = toml.read_text().split("[[source]]")
    toml.write_text("[[source]]".join(p for p in lines if "tools.txt" not in p))
    report = build(default_embedder(), corpus, index_dir)
    assert report.embedded == 0
    assert {c.source for c in published_chunks(index_dir)} == {"guide.md", "notes/phase-7-rl.md"}
    assert "notes/tools.txt" not in _manifest(index_dir).fingerprints


def test_an_unchanged_url_page_is_not_parsed_again_and_a_changed_one_is(
    embedder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A URL source is fingerprinted by the fetched body, final URL and content type, like
    a file by its bytes: fetched again (revalidated every time here) but the same, its
    chunks are reused; changed, it is parsed and chunked again."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from indexing import UrlFetcher

    page = {"body": b"<html><body><h1>Clipping</h1><p>Gradient clipping caps the norm.</p>"}
    hits: list[str] = []

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page["body"])))
            self.end_headers()
            self.wfile.write(page["body"])

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/clipping.html"
    corpus = write_corpus(tmp_path / "corpus")
    with (corpus / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[source]]\nurl = "{url}"\nphases = [4]\n')
    index_dir = tmp_path / "index"
    fetcher = UrlFetcher(tmp_path / "url-cache", allowed_networks=["127.0.0.1/32"])
    try:
        first = build(embedder, corpus, index_dir, fetcher=fetcher)
        assert first.files_read["parsed"] == 4
        assert any(
            "caps the norm" in c.text and c.source == url for c in published_chunks(index_dir)
        )
        fp = _manifest(index_dir).fingerprints[url]
        assert fp["final_url"] == url and fp["content_type"].startswith("text/html")

        again = build(embedder, corpus, index_dir, fetcher=fetcher)
        assert len(hits) == 2  # fetched again (refresh_s 0) ...
        assert again.files_read == {"parsed": 0, "unchanged": 4, "touched": 0}  # ... not parsed
        assert again.unchanged

        # A version made before URL sources had fingerprints: the same chunks, but the
        # build publishes once to record the page's fingerprint (else it parses it forever).
        path = index_dir / VERSIONS / str(current_version(index_dir)) / MANIFEST
        old = json.loads(path.read_text())
        del old["fingerprints"][url]
        path.write_text(json.dumps(old))
        recorded = build(embedder, corpus, index_dir, fetcher=fetcher)
        assert recorded.published and recorded.files_read["parsed"] == 1
        assert url in _manifest(index_dir).fingerprints
        assert build(embedder, corpus, index_dir, fetcher=fetcher).unchanged

        page["body"] = page["body"].replace(b"caps the norm", b"rescales the gradient norm")
        changed = build(embedder, corpus, index_dir, fetcher=fetcher)
        assert changed.published and changed.files_read["parsed"] == 1
        texts = [c.text for c in published_chunks(index_dir) if c.source == url]
        assert texts and all("caps the norm" not in t for t in texts)
        assert any("rescales the gradient norm" in t for t in texts)
    finally:
        fetcher.close()
        httpd.shutdown()
        httpd.server_close()
