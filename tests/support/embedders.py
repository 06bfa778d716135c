"""The embedder the product uses by default (ASSISTANT_EMBEDDING_BACKEND), for tests and benches.

Tests build and serve indexes with the same backend a fresh install uses, so the quality
floors they assert hold for what ships. A fresh instance each call (lazy: nothing loads
until something is embedded).
"""

from __future__ import annotations

from typing import Any


def default_embedder() -> Any:
    """``make_embedder`` of the settings (environment included): onnx-int8 unless overridden."""
    from assistant.factory import make_embedder
    from assistant.settings import Settings

    return make_embedder(Settings())
