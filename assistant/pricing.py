"""Model prices (USD per 1M input / output tokens) and the cost of one generation."""

from __future__ import annotations

import fnmatch
import logging
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

# Backends that run on our own hardware: no bill unless the operator prices them.
FREE_BACKENDS = frozenset({"extractive", "local"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1 million tokens."""

    input_per_m: float
    output_per_m: float


class PricingTable:
    """Prices by model name: exact match first, then the most specific matching glob."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._exact: dict[str, ModelPrice] = {}
        self._globs: list[tuple[str, ModelPrice]] = []
        for name, price in prices.items():
            for label, value in (("input", price.input_per_m), ("output", price.output_per_m)):
                if not value >= 0:  # also refuses NaN
                    raise ConfigError(
                        f"price {label} for model {name!r} must be >= 0, got {value!r}"
                    )
            if _GLOB_CHARS & set(name):
                self._globs.append((name.casefold(), price))
            else:
                self._exact[name.casefold()] = price
        # Most literal characters first, so "gpt-4o-mini*" beats "gpt-4o*".
        self._globs.sort(key=lambda item: -sum(c not in _GLOB_CHARS for c in item[0]))
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_toml(cls, path: str | Path) -> PricingTable:
        """Read ``[models] "name" = { input = USD_per_1M, output = USD_per_1M }``."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"pricing file {str(path)!r} does not exist") from exc
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"pricing file {str(path)!r} is not valid TOML: {exc}") from exc
        return cls(_parse(data, str(path)))

    @classmethod
    def default(cls) -> PricingTable:
        """The sample table shipped in ``assistant/data/pricing.toml`` (example prices)."""
        text = resources.files("assistant").joinpath("data/pricing.toml").read_text("utf-8")
        return cls(_parse(tomllib.loads(text), "assistant/data/pricing.toml"))

    @classmethod
    def empty(cls) -> PricingTable:
        return cls({})

    def price(self, model: str) -> ModelPrice | None:
        name = model.casefold()
        exact = self._exact.get(name)
        if exact is not None:
            return exact
        for pattern, price in self._globs:
            if fnmatch.fnmatchcase(name, pattern):
                return price
        return None

    def cost(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        backend: str | None = None,
    ) -> float:
        """USD for one call; 0 for models without a price (warned once for remote ones)."""
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got prompt={prompt_tokens}, completion={completion_tokens}"
            )
        price = self.price(model)
        if price is None:
            # Nothing billed (extractive answers, cache hits) or our own hardware: no warning.
            free = backend in FREE_BACKENDS or model.casefold().startswith("extractive")
            if not free and prompt_tokens + completion_tokens > 0:
                self._warn_unknown(model)
            return 0.0
        usd = (prompt_tokens * price.input_per_m + completion_tokens * price.output_per_m) / 1e6
        return round(usd, 10)

    def _warn_unknown(self, model: str) -> None:
        with self._lock:
            if model in self._warned:
                return
            self._warned.add(model)
        logger.warning(
            "no price for model %r: its queries are recorded at $0; add it to the pricing file",
            model,
        )


def _parse(data: dict[str, Any], where: str) -> dict[str, ModelPrice]:
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError(f"{where}: [models] must be a table, got {type(models).__name__}")
    prices: dict[str, ModelPrice] = {}
    for name, entry in models.items():
        if not isinstance(entry, dict) or not {"input", "output"} <= entry.keys():
            raise ConfigError(
                f"{where}: model {name!r} needs {{ input = ..., output = ... }}, got {entry!r}"
            )
        try:
            prices[name] = ModelPrice(float(entry["input"]), float(entry["output"]))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{where}: model {name!r} has a non-numeric price: {entry!r}"
            ) from exc
    return prices
