"""ONNX Runtime embeddings of a sentence-transformers model: no torch at run time.

Same vectors as the torch backend (float32: cosine 1.000; int8: >= 0.98 per vector),
a faster model, and a cheap start: the tokenizer and the model's shape come from the
folder's JSON files, and the ONNX session is created on the first embedding, so a
build with nothing to embed never loads it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embeddings import canonical_model_name, resolve_model_path
from assistant.errors import ConfigError
from assistant.model_files import ModelFiles, TokenCounter

logger = logging.getLogger(__name__)

ONNX_BACKENDS = ("onnx", "onnx-int8")
# A batch of at most this many tokens runs on one thread (see OnnxEmbedder._get_session).
# Measured on 2 cores, int8: 1 x 21 tokens 2.4 ms on one thread, 3.4 ms on two; 2 x 30
# 5.1 against 6.1; 4 x 30 9.1 against 8.3, where two threads start to win.
SMALL_BATCH_TOKENS = 64


class OnnxEmbedder:
    """Normalised embeddings from an ONNX export of a local sentence-transformers folder."""

    def __init__(
        self,
        model_name: str,
        *,
        cache_dir: Path,
        quantized: bool = True,
        batch_size: int = 32,
        threads: int = 0,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> None:
        path = Path(resolve_model_path(model_name))
        if not path.is_dir():
            raise ConfigError(
                f"the ONNX embedding backend needs a local model folder, {model_name!r} is not "
                "one; use ASSISTANT_EMBEDDING_BACKEND=torch for hub names"
            )
        self.files = ModelFiles.read(path)
        self.model_name = canonical_model_name(model_name)
        self.backend = "onnx-int8" if quantized else "onnx"
        self.dimension = self.files.dimension
        self.max_seq_length = self.files.max_seq_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self._quantized = quantized
        self._threads = threads
        self._query_prefix = self.files.prompt_text(query_prompt, "query")
        self._doc_prefix = self.files.prompt_text(document_prompt, "document")
        self._model_tok = self.files.tokenizer(self.max_seq_length)
        self.tokenizer: Any = TokenCounter(self.files.tokenizer(None))
        self._sessions: dict[int, Any] = {}  # intra-op threads -> session, opened on first use
        self._inputs: tuple[str, ...] = ()
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether an ONNX session exists (False until something was embedded)."""
        return bool(self._sessions)

    def _get_session(self, tokens: int) -> Any:
        """The session for a batch of ``tokens`` (rows x padded width): one thread for a
        small one (a query: waking a second thread for each of the graph's ~100 steps costs
        more than it shares, 0.4 ms of 3.6 measured), every configured thread otherwise."""
        threads = self._threads or (os.cpu_count() or 1)
        if tokens <= SMALL_BATCH_TOKENS:
            threads = 1
        with self._lock:
            session = self._sessions.get(threads)
            if session is None:
                session = self._sessions[threads] = self._open(threads)
            return session

    def _open(self, threads: int) -> Any:
        import onnxruntime as ort

        from assistant.onnx_export import onnx_path

        file = onnx_path(self.files.path, self.cache_dir, self._quantized)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Busy-waiting threads steal the CPU from the rest of the process (and from the
        # other processes of a small machine) between batches.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(file), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ConfigError(
                f"cannot open the ONNX model {file}: {exc}; delete it to re-export"
            ) from exc
        self._inputs = tuple(i.name for i in session.get_inputs())
        logger.info("embedding with %s (%s, %d threads)", file, self.backend, threads)
        return session

    def _encode(self, texts: list[str]) -> np.ndarray:
        """(N, dim) unit vectors; batches of similar token length, padded per batch."""
        encs = self._model_tok.encode_batch([t.strip() for t in texts])
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encs[r].ids) for r in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for i, r in enumerate(rows):
                n = len(encs[r].ids)
                ids[i, :n] = encs[r].ids
                mask[i, :n] = 1
            session = self._get_session(ids.size)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            out[rows] = self._pool(hidden, mask)
        return out

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(B, T, H) token vectors -> (B, H) unit sentence vectors."""
        if self.files.pooling == "cls":
            vec = hidden[:, 0]
        elif self.files.pooling == "max":
            vec = np.where(mask[..., None] > 0, hidden, -np.inf).max(axis=1)
        else:
            m = mask[..., None].astype(np.float32)
            vec = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vec, axis=1, keepdims=True)
        return (vec / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode([self._doc_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._query_prefix + text])[0]

    def count_tokens(self, text: str) -> int:
        """Tokens of the model's own tokenizer, without special tokens."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))
