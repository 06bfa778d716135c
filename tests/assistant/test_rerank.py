"""Optional cross-encoder rerank, with a tiny randomly initialised cross-encoder built here
and loaded by path exactly as a real one (no hub is reachable offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import resolve_model_path
from assistant.errors import ConfigError
from assistant.retrieval import HybridRetriever, load_reranker
from assistant.snapshot import IndexSnapshot


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    out = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, num_labels=1,
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_rerank_orders_the_hybrid_candidates_by_the_cross_encoder(
    tiny_cross_encoder: Path,
    corpus_index: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    snapshot = IndexSnapshot.load(corpus_index)
    query = "which regularizer pushes some weights to exactly zero?"
    qvec = embedder.embed_query(query)
    # The same candidate pool for both (the pool grows with k otherwise).
    plain = HybridRetriever(candidates=100).search(snapshot, query, qvec, 15)
    reranker = load_reranker(str(tiny_cross_encoder))
    hits = HybridRetriever(candidates=100, reranker=reranker).search(snapshot, query, qvec, 5)

    assert len(hits) == 5
    # Every reranked hit is one of the hybrid's top k*3 candidates...
    assert {h.chunk.chunk_id for h in hits} <= {h.chunk.chunk_id for h in plain}
    # ...scored by the cross-encoder itself, best first.
    expected = reranker.predict([(query, h.chunk.embed_text()) for h in hits])
    assert np.allclose([h.score for h in hits], expected, atol=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_missing_reranker_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load reranker"):
        load_reranker(str(tmp_path / "no-such-model"))
