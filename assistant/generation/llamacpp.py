"""The same model and adapter served by llama.cpp (llama-cpp-python): several times faster on CPU.

The prompt is rendered by the adapter's own tokenizer and chat template (``render_chat``,
as in training), then tokenised by llama.cpp's copy of the same vocabulary, so counts
are exact. The peft adapter is exported once to a LoRA GGUF (``lora_gguf``) in the model
cache. Stop rules and the time budget are those of the transformers backend.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import BadInputError, ConfigError, UpstreamModelError, UpstreamTimeoutError
from assistant.extras import require
from assistant.generation.local import (
    END_OF_TURN_TOKENS,
    check_adapter,
    load_tokenizer,
    render_chat,
)
from assistant.generation.lora_gguf import export_lora_gguf
from assistant.generation.models import cache_root, gguf_path, is_bundled
from assistant.generation.stops import RunawayGuard, trim_runaway
from assistant.protocols import GenerationRequest
from assistant.types import Generation, Usage

logger = logging.getLogger(__name__)

N_CTX = 4096  # tokens of KV cache: prompts here are ~1k tokens; Gemma 3 allows 32k


def llama_cpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def adapter_gguf(adapter: Path) -> Path:
    """The adapter as a LoRA GGUF, exported once into the model cache (keyed by its weights)."""
    check_adapter(adapter)
    digest = hashlib.sha256((adapter / "adapter_model.safetensors").read_bytes()).hexdigest()[:16]
    out = cache_root() / "lora-gguf" / f"{adapter.name}-{digest}.gguf"
    return out if out.is_file() else export_lora_gguf(adapter, out)


class LlamaCppGenerator:
    """A GGUF model (plus an optional LoRA adapter) through llama.cpp, as a ``Generator``."""

    backend = "local"

    def __init__(
        self,
        model: str,
        *,
        adapter: Path | None = None,
        max_new_tokens: int = 512,
        time_budget_s: float | None = None,
        n_threads: int | None = None,
    ) -> None:
        Llama = require("llama_cpp", "llamacpp", "the llama.cpp engine").Llama
        adapter = Path(adapter) if adapter is not None else None
        path = gguf_path(model) if is_bundled(model) else Path(model)
        if path.suffix != ".gguf" or not path.is_file():
            raise ConfigError(f"the llama.cpp engine needs a GGUF file, got {model!r}")
        lora = str(adapter_gguf(adapter)) if adapter is not None else None
        has_tok = adapter is not None and (adapter / "tokenizer_config.json").is_file()
        self.tokenizer = load_tokenizer(str(adapter) if has_tok else model)
        self.model = model if adapter is None else f"{model}+{adapter.name}"
        self.max_new_tokens = max_new_tokens
        self.time_budget_s = time_budget_s
        self._llm = Llama(model_path=str(path), lora_path=lora, n_ctx=N_CTX, n_threads=n_threads,
                          verbose=False)  # fmt: skip
        self.context_tokens = N_CTX
        self._stop = {self._llm.token_eos()}
        for t in END_OF_TURN_TOKENS:
            ids = self._llm.tokenize(t.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                self._stop.add(ids[0])
        self._lock = threading.Lock()
        logger.info("llama.cpp model %s loaded (lora: %s)", self.model, lora)

    def _tokens(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def _decode(self, ids: list[int]) -> str:
        return bytes(self._llm.detokenize(ids)).decode("utf-8", errors="ignore")

    def generate(self, request: GenerationRequest) -> Generation:
        final: Generation | None = None
        for item in self.stream(request):
            if isinstance(item, Generation):
                final = item
        assert final is not None
        return final

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Yield text deltas, then one final ``Generation`` (exact token counts)."""
        with self._lock:
            prompt = self._tokens(render_chat(self.tokenizer, request.messages, True))
            if not prompt:
                raise BadInputError("the chat messages rendered to an empty prompt")
            max_new = min(request.max_tokens, self.max_new_tokens, N_CTX - len(prompt))
            if max_new <= 0:
                raise UpstreamModelError(f"the prompt is {len(prompt)} tokens; {self.model!r} takes {N_CTX}")  # fmt: skip
            budget = self.time_budget_s
            guard = RunawayGuard(None if budget is None else time.monotonic() + budget)
            temp = max(request.temperature, 0.0)
            new: list[int] = []
            text, sent, ended = "", 0, False
            try:
                for tok in self._llm.generate(prompt, temp=temp, top_k=1 if temp == 0 else 0,
                                              top_p=1.0, repeat_penalty=1.0, reset=True):  # fmt: skip
                    if tok in self._stop:
                        ended = True
                        break
                    new.append(tok)
                    text = self._decode(new)
                    if guard(new, text) or len(new) >= max_new:
                        break
                    safe = len(text) - 24
                    if safe > sent:
                        yield text[sent:safe]
                        sent = safe
            except (RuntimeError, ValueError) as exc:
                raise UpstreamModelError(f"llama.cpp model {self.model!r} failed: {exc}") from exc
            if guard.reason == "time_budget":
                raise UpstreamTimeoutError(
                    f"llama.cpp model {self.model!r} did not finish within {budget:g}s"
                )
            final = trim_runaway(text, new, self._decode) if guard.reason else text.strip()
        shown = text[:sent].lstrip()
        if final.startswith(shown) and len(final) > len(shown):
            yield final[len(shown) :]
        limit = not ended and guard.reason is None
        yield Generation(final, Usage(len(prompt), len(new), exact=True), self.model,
                         "length" if limit else "stop")  # fmt: skip


def make_local_generator(
    model: str, adapter: Path | None, engine: str, max_new_tokens: int, time_budget_s: float | None
) -> Any:
    """``engine``: transformers, llamacpp, or auto (llama.cpp when installed and the model is GGUF)."""
    from assistant.generation.local import LocalGenerator

    gguf_model = is_bundled(model) or model.endswith(".gguf")
    if engine == "llamacpp" or (engine == "auto" and gguf_model and llama_cpp_available()):
        return LlamaCppGenerator(model, adapter=adapter, max_new_tokens=max_new_tokens,
                                 time_budget_s=time_budget_s)  # fmt: skip
    # transformers loads with device_map (and reads GGUF) only with accelerate installed.
    require("accelerate", "local", "the transformers engine of the local backend")
    return LocalGenerator(model, adapter=adapter, max_new_tokens=max_new_tokens,
                          time_budget_s=time_budget_s)  # fmt: skip
