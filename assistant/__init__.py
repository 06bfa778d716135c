"""The study assistant's core: answers cited from the study corpus.

The names below are what the other packages (``api``, ``indexing``, ``finetune``, the CLI)
use. They are loaded on first access, so ``import assistant.errors`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.errors import AssistantError, BadInputError
    from assistant.factory import make_assistant
    from assistant.searcher import IndexSearcher
    from assistant.service import AskOptions, StudyAssistant
    from assistant.settings import Settings, get_settings
    from assistant.types import (
        Answer,
        AskEvent,
        Chunk,
        Citation,
        Delta,
        Document,
        Done,
        Meta,
        SearchHit,
        Section,
        Usage,
    )

__all__ = [
    "Answer",
    "AskEvent",
    "AskOptions",
    "AssistantError",
    "BadInputError",
    "Chunk",
    "Citation",
    "Delta",
    "Document",
    "Done",
    "IndexSearcher",
    "Meta",
    "SearchHit",
    "Section",
    "Settings",
    "StudyAssistant",
    "Usage",
    "get_settings",
    "make_assistant",
]

_MODULE_OF = {
    "AssistantError": "errors",
    "BadInputError": "errors",
    "make_assistant": "factory",
    "IndexSearcher": "searcher",
    "AskOptions": "service",
    "StudyAssistant": "service",
    "Settings": "settings",
    "get_settings": "settings",
}  # every other name of __all__ lives in assistant.types


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    return getattr(import_module(f"assistant.{_MODULE_OF.get(name, 'types')}"), name)
