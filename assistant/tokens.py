"""Token counts for the ledger: exact with tiktoken when its files are local, else estimated.

tiktoken downloads its BPE files on first use and has no timeout, which would hang
a request on a machine without internet. So the encoding file is looked up in
tiktoken's cache folder first (``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``,
else ``<tmp>/data-gym-cache``) and checked against its published sha256; only then
is tiktoken asked to load it. A missing file is remembered per (encoding, folder),
so the check is not repeated on every call.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Published BPE files of tiktoken_ext.openai_public: URL and sha256 of the content.
_ENCODING_FILES = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
# Model-name prefixes that use o200k_base; everything else is counted with cl100k_base.
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")

_CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text with BPE tokenizers

_encoders: dict[tuple[str, str], Any] = {}  # (encoding, cache dir) -> Encoding | None
_lock = threading.Lock()


def encoding_for_model(model: str | None) -> str:
    """``o200k_base`` for the GPT-4o / o-series families, ``cl100k_base`` otherwise."""
    if model and model.casefold().startswith(_O200K_PREFIXES):
        return "o200k_base"
    return "cl100k_base"


def tiktoken_cache_dir() -> Path | None:
    """The folder where tiktoken looks for its files; None when its cache is disabled."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            # An empty value makes tiktoken download on every load: never local.
            return Path(os.environ[var]) if os.environ[var] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _load(encoding: str, cache_dir: Path) -> Any:
    """The tiktoken Encoding when its file is present and intact, else None (never downloads)."""
    url, sha256 = _ENCODING_FILES[encoding]
    path = cache_dir / hashlib.sha1(url.encode()).hexdigest()  # tiktoken's cache file name
    try:
        data = path.read_bytes()
    except OSError:
        logger.info(
            "tiktoken file for %s not in %s: token counts are estimates", encoding, cache_dir
        )
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        # tiktoken would delete it and download again; we must not touch the network.
        logger.warning("tiktoken file %s has the wrong checksum: token counts are estimates", path)
        return None
    try:
        import tiktoken

        return tiktoken.get_encoding(encoding)
    except Exception as exc:  # a broken install must not break answering
        logger.warning("tiktoken could not load %s: %s; token counts are estimates", encoding, exc)
        return None


def _encoder(encoding: str) -> Any:
    cache_dir = tiktoken_cache_dir()
    slot = (encoding, str(cache_dir))
    with _lock:
        if slot not in _encoders:
            _encoders[slot] = None if cache_dir is None else _load(encoding, cache_dir)
        return _encoders[slot]


def estimate_tokens(text: str) -> int:
    """len(text) / 4, rounded up."""
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def count_tokens_estimate(text: str, *, model: str | None = None) -> tuple[int, bool]:
    """(token count, exact?): tiktoken when its file is local, else ``estimate_tokens``."""
    encoding = encoding_for_model(model)
    encoder = _encoder(encoding)
    if encoder is None:
        return estimate_tokens(text), False
    return len(encoder.encode(text, disallowed_special=())), True
