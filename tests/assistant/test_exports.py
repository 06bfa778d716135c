"""The package's public names (``assistant.__all__``) all resolve, lazily."""

from __future__ import annotations

import pytest

import assistant


def test_every_exported_name_resolves() -> None:
    for name in assistant.__all__:
        assert getattr(assistant, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        assistant.nope  # noqa: B018
