"""ONNX Runtime embeddings (issue 16): the same vectors as torch, and a mismatch refused at load.

The export is made once into the configured cache (ASSISTANT_EMBEDDING_CACHE_DIR, by
default ~/.cache/study-assistant/onnx) and reused by every later run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.errors import ConfigError, IndexCorruptError
from assistant.factory import make_embedder
from assistant.index import MANIFEST, VERSIONS, Manifest, current_version
from assistant.model_files import TokenCounter
from assistant.onnx_embedder import OnnxEmbedder
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from indexing.chunking import TokenChunker
from tests.conftest import CORPUS
from tests.indexing.minicorpus import build, write_corpus

TEXTS = [
    "hi",
    "  Ridge regression adds an L2 penalty on the coefficients.  ",
    "Dropout randomly zeroes activations during training so units cannot co-adapt.",
    "A branch is a movable pointer to a commit. " * 60,  # past max_seq_length: truncated
    "Gradient descent > Learning rate\nToo large a step diverges; too small a step crawls.",
]


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    return Settings().resolved_embedding_cache_dir


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The reference: sentence-transformers on torch (the session's embedder is the default)."""
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def onnx_fp32(cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, quantized=False)


@pytest.fixture(scope="module")
def onnx_int8(cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, quantized=True)


def _note_texts() -> list[str]:
    notes = sorted((CORPUS / "notes").glob("*.md"))[:3]
    paras = [p.strip() for f in notes for p in f.read_text().split("\n\n") if len(p) > 80]
    return paras[:40]


def test_float32_vectors_equal_torch(
    torch_embedder: SentenceTransformerEmbedder, onnx_fp32: OnnxEmbedder
) -> None:
    embedder = torch_embedder
    texts = TEXTS + _note_texts()
    ref = embedder.embed_documents(texts)
    got = onnx_fp32.embed_documents(texts)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float((got * ref).sum(axis=1).min()) >= 0.999
    q = onnx_fp32.embed_query(TEXTS[2])
    assert float(q @ embedder.embed_query(TEXTS[2])) >= 0.999


def test_int8_vectors_stay_close_to_torch(
    torch_embedder: SentenceTransformerEmbedder, onnx_int8: OnnxEmbedder
) -> None:
    texts = TEXTS + _note_texts()
    ref = torch_embedder.embed_documents(texts)
    cos = (onnx_int8.embed_documents(texts) * ref).sum(axis=1)
    assert float(cos.min()) >= 0.97, cos


def test_batching_and_order_do_not_change_vectors(cache_dir: Path) -> None:
    one = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, quantized=False, batch_size=1)
    many = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, quantized=False, batch_size=64)
    a = one.embed_documents(TEXTS)
    b = many.embed_documents(TEXTS[::-1])[::-1]
    assert float((a * b).sum(axis=1).min()) >= 0.9999


def test_int8_vectors_move_with_their_batch_unless_embedded_alone(cache_dir: Path) -> None:
    """Dynamic int8 quantisation scales a batch's activations together: batched, a text's
    vector moves with its neighbours (slightly); with ASSISTANT_ONNX_BATCH_SIZE=1 it
    depends on its text alone."""
    alone = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, quantized=True, batch_size=1)
    vectors = np.vstack([alone.embed_documents([t]) for t in TEXTS])
    np.testing.assert_allclose(alone.embed_documents(TEXTS[::-1])[::-1], vectors, atol=1e-6, rtol=0)
    batched = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, quantized=True, batch_size=64)
    moved = batched.embed_documents(TEXTS)
    assert float(np.abs(moved - vectors).max()) > 1e-4
    assert float((moved * vectors).sum(axis=1).min()) >= 0.95  # 0.979 measured (a short text)


def test_session_is_created_on_first_use_only(cache_dir: Path) -> None:
    e = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir)
    assert not e.loaded and e.dimension == 384 and e.max_seq_length == 256
    assert e.count_tokens("ridge regression") > 0 and not e.loaded
    e.embed_query("ridge")
    assert e.loaded and e.backend == "onnx-int8"


def test_chunks_are_the_same_with_the_light_tokenizer(embedder, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from assistant.embeddings import resolve_model_path
    from indexing.loaders import load_file

    hf = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    light = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir).tokenizer
    assert isinstance(light, TokenCounter)
    doc = load_file(CORPUS / "roadmap.md", "roadmap.md", max_bytes=10**8)
    a = TokenChunker(hf, 200, 32).chunk(doc)
    b = TokenChunker(light, 200, 32).chunk(doc)
    assert [c.content_hash for c in a] == [c.content_hash for c in b] and len(a) > 10


def test_factory_and_settings(tmp_path: Path) -> None:
    e = make_embedder(Settings(embedding_backend="onnx", embedding_cache_dir=tmp_path))
    assert isinstance(e, OnnxEmbedder) and e.backend == "onnx" and e.cache_dir == tmp_path
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings(embedding_backend="tensorflow")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="local model folder"):
        OnnxEmbedder("some-org/not-a-folder", cache_dir=tmp_path)


def test_mismatched_backend_is_refused_at_load(onnx_int8: OnnxEmbedder, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    report = build(onnx_int8, corpus, index_dir)
    path = index_dir / VERSIONS / report.version
    assert Manifest.read(path / MANIFEST).embedding_backend == "onnx-int8"
    name = onnx_int8.model_name
    snap = IndexSnapshot.load(index_dir, model_name=name, backend="onnx-int8")
    assert snap.version == report.version
    with pytest.raises(IndexCorruptError, match=r"'onnx-int8' backend.*'torch'") as err:
        IndexSnapshot.load(index_dir, model_name=name, backend="torch")
    assert "ASSISTANT_EMBEDDING_BACKEND=onnx-int8" in str(err.value)


def test_a_manifest_without_a_backend_reads_as_torch(
    torch_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    embedder = torch_embedder
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build(embedder, corpus, index_dir)
    path = index_dir / VERSIONS / str(current_version(index_dir)) / MANIFEST
    data = json.loads(path.read_text())
    del data["embedding_backend"], data["fingerprints"]
    path.write_text(json.dumps(data))
    assert Manifest.read(path).embedding_backend == "torch"
    IndexSnapshot.load(index_dir, model_name=embedder.model_name, backend="torch")
    with pytest.raises(IndexCorruptError, match="backend"):
        IndexSnapshot.load(index_dir, model_name=embedder.model_name, backend="onnx")


def test_rebuild_with_another_backend_embeds_everything_again(
    torch_embedder: SentenceTransformerEmbedder,
    onnx_fp32: OnnxEmbedder,
    tmp_path: Path,
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    build(torch_embedder, corpus, index_dir)
    report = build(onnx_fp32, corpus, index_dir)
    assert report.reused == 0 and report.embedded == report.chunks
    assert report.full_rebuild_reason == "embedding backend changed (torch -> onnx)"


def test_a_small_batch_runs_on_one_thread_with_the_same_vectors(cache_dir: Path) -> None:
    """A query (at most SMALL_BATCH_TOKENS tokens) gets a one-thread session of its own; a
    batch gets every configured thread. The thread count changes the speed, not the vector."""
    from assistant.onnx_embedder import SMALL_BATCH_TOKENS

    e = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, threads=2, batch_size=1)
    query = "what does dropout do to activations during training?"
    assert e.count_tokens(query) + 2 <= SMALL_BATCH_TOKENS
    small = e.embed_query(query)
    assert set(e._sessions) == {1}  # which sessions exist is the point here
    e.embed_documents([" ".join(TEXTS)])  # over the threshold: the configured two threads
    assert set(e._sessions) == {1, 2}
    two = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir, threads=2, batch_size=1)
    two._sessions[1] = two._open(2)  # the same query on two threads
    np.testing.assert_allclose(two.embed_query(query), small, atol=1e-6, rtol=0)


def test_the_service_warms_both_sessions_and_a_one_shot_command_neither(
    cache_dir: Path, tmp_path: Path
) -> None:
    """A server loads before it is ready (its first query and first answer pay nothing);
    `assistant ask` (warm=False) opens only what its one question needs, when it needs it."""
    from assistant.factory import make_assistant
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "index", tmp_path)
    for warm, sessions in ((True, {1, os.cpu_count() or 1}), (False, set())):
        e = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=cache_dir)
        assistant = make_assistant(settings, embedder=e, warm=warm)
        try:
            assert set(e._sessions) == sessions
        finally:
            assistant.close()
