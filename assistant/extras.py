"""Optional parts of the install: import what an extra brings, or name the extra to install.

The base install serves the default (extractive answers, SQLite, the bundled embedder).
The extras of pyproject.toml add the rest: ``local`` (the bundled Gemma model, GGUF,
accelerate), ``llamacpp`` (llama-cpp-python, gguf), ``finetune`` (accelerate, matplotlib),
``postgres`` (psycopg). Code that needs one calls ``require`` where that path starts, so a
missing extra is one clear line (``ConfigError``), never a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from assistant.errors import ConfigError

DISTRIBUTION = "study-assistant"


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: ``pip install 'study-assistant[extra]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def require(module: str, extra: str, needed_for: str) -> ModuleType:
    """``module``, imported; ``ConfigError`` naming ``extra`` when it is not installed.

    ``needed_for`` says what wanted it ("the llama.cpp engine"), so the message reads
    "the llama.cpp engine needs the 'llamacpp' extra ...".
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or ""
        if missing and (module == missing or module.startswith(missing + ".")):
            raise ConfigError(
                f"{needed_for} needs the {extra!r} extra ({missing} is not installed): "
                f"{install_hint(extra)}"
            ) from exc
        # Installed but broken (a missing shared library, a half-upgraded package).
        raise ConfigError(
            f"{needed_for} needs {module} (the {extra!r} extra), which is installed but does "
            f"not import: {exc}; reinstall it: {install_hint(extra)}"
        ) from exc
