"""What runs on the Ray cluster's workers besides parsing: the embedding actor.

A plain class; ``indexing.ray_engine`` wraps it (and the load stage's ``parse_and_chunk``)
with ``ray.remote``, so importing this module needs no Ray. Workers import this package,
so every node runs the same code as the publishing process (the same image, or the same
checkout on PYTHONPATH).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class EmbedActor:
    """Loads the embedder once, then embeds batch after batch on its node (its GPU if any)."""

    def __init__(self, make_embedder: Callable[[], Any]) -> None:
        self.embedder = make_embedder()

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """((n, dim) float32 vectors, tokens embedded)."""
        vectors = np.asarray(self.embedder.embed_documents(list(texts)), dtype=np.float32)
        return vectors, sum(self.embedder.count_tokens(t) for t in texts)
