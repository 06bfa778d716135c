"""A local transformers causal LM, optionally with a peft LoRA adapter, as a ``Generator``.

``render_chat`` is the one place the RAG chat messages become model text: the
``finetune`` package renders its training examples with it, so an adapter sees at
serving time exactly the format it was trained on.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant.errors import BadInputError, ConfigError, UpstreamModelError, UpstreamTimeoutError
from assistant.generation.models import resolve_model
from assistant.generation.stops import RunawayGuard, trim_runaway
from assistant.protocols import GenerationRequest
from assistant.types import Generation, Usage

logger = logging.getLogger(__name__)

# Used only when a tokenizer ships no chat template of its own. Each turn is
#   <|role|>\n{content}{eos}\n
# and the generation prompt is "<|assistant|>\n". The eos after each turn is what
# teaches a fine-tuned model to stop after its answer.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] }}"
    "{% if eos_token %}{{ eos_token }}{% endif %}{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

# How long the stream waits for the next token before calling the model stalled.
STREAM_STALL_S = 120.0
# Characters a stream keeps back, so text the stop rules cut (a loop, an echoed prompt)
# is mostly never shown.
HOLD_BACK_CHARS = 24
# A new turn starting ends the answer too (a base model may skip <end_of_turn>).
END_OF_TURN_TOKENS = ("<end_of_turn>", "<start_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>")


def render_chat(
    tokenizer: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool
) -> str:
    """Chat messages as model text, with the tokenizer's template or the documented fallback."""
    template = None if getattr(tokenizer, "chat_template", None) else FALLBACK_CHAT_TEMPLATE
    try:
        text = tokenizer.apply_chat_template(
            list(messages),
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            tokenize=False,
        )
    except Exception as exc:  # jinja errors: a template that rejects our roles
        raise ConfigError(
            f"the tokenizer's chat template cannot render the messages: {exc}"
        ) from exc
    return str(text)


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of rendered chat text; the template already holds any special tokens."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _where_looked(name: str) -> str:
    from huggingface_hub import constants

    return (
        f"no folder at {Path(name).expanduser().resolve()} and not in the Hugging Face "
        f"cache at {constants.HF_HUB_CACHE}; model hubs are not reachable offline, so give "
        "the path of a local model folder (or copy the model into that cache first)"
    )


def _from_pretrained(loader: Any, name: str, what: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained`` from a folder or the local cache; errors name where we looked."""
    path = Path(name).expanduser()
    if path.exists():
        try:
            return loader.from_pretrained(str(path), **kwargs)
        except Exception as exc:
            raise ConfigError(
                f"cannot load {what} {name!r} from folder {path.resolve()}: {exc}"
            ) from exc
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if not looks_like_path:
        try:
            return loader.from_pretrained(name, local_files_only=True, **kwargs)
        except Exception as exc:
            if _hub_offline():
                raise ConfigError(f"cannot load {what} {name!r}: {_where_looked(name)}") from exc
            try:
                return loader.from_pretrained(name, **kwargs)
            except Exception as exc2:
                raise ConfigError(
                    f"cannot load {what} {name!r}: {_where_looked(name)} ({exc2})"
                ) from exc2
    raise ConfigError(f"cannot load {what} {name!r}: {_where_looked(name)}")


def load_tokenizer(name: str) -> Any:
    """The model's own tokenizer, by local folder or a name in the Hugging Face cache."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, resolve_model(name), "the tokenizer of model")


def load_causal_lm(name: str, *, device: str, dtype: Any = None) -> Any:
    """A causal LM on ``device``: fp32 on CPU, bf16 on CUDA unless ``dtype`` says otherwise."""
    import torch
    from transformers import AutoModelForCausalLM

    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    # device_map places weights as they load: a GPU model never sits whole in CPU memory.
    path = resolve_model(name)
    return _from_pretrained(AutoModelForCausalLM, path, "model", dtype=dtype, device_map=device)


def check_adapter(adapter: Path) -> None:
    """``ConfigError`` unless ``adapter`` is a saved peft adapter folder."""
    if not (adapter / "adapter_config.json").is_file():
        raise ConfigError(
            f"no LoRA adapter at {adapter.resolve()}: adapter_config.json is missing "
            "(train one with `assistant finetune train`)"
        )


def load_adapter(model: Any, adapter: Path) -> Any:
    """Wrap ``model`` with the peft LoRA adapter saved in ``adapter``."""
    from peft import PeftModel

    check_adapter(adapter)
    try:
        return PeftModel.from_pretrained(model, str(adapter))
    except Exception as exc:
        raise ConfigError(f"cannot load the LoRA adapter at {adapter.resolve()}: {exc}") from exc


class _StopRules:
    """Stopping criterion: the consumer went away, or a ``RunawayGuard`` rule fired."""

    def __init__(self, event: threading.Event, guard: RunawayGuard, tokenizer: Any, n_prompt: int) -> None:  # fmt: skip
        self.event = event
        self.guard = guard
        self.tokenizer = tokenizer
        self.n_prompt = n_prompt

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        new = input_ids[0, self.n_prompt :].tolist()
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        stopped = self.event.is_set() or self.guard(new, text)
        return torch.full((input_ids.shape[0],), stopped, dtype=torch.bool, device=input_ids.device)


class LocalGenerator:
    """Answers with a local transformers causal LM (plus optional LoRA adapter), exact usage."""

    backend = "local"

    def __init__(
        self,
        model: str,
        *,
        adapter: Path | None = None,
        device: str | None = None,
        max_new_tokens: int = 512,
        time_budget_s: float | None = None,
    ) -> None:
        if max_new_tokens <= 0:
            raise ConfigError(f"max_new_tokens must be > 0, got {max_new_tokens}")
        if time_budget_s is not None and time_budget_s <= 0:
            raise ConfigError(f"time_budget_s must be > 0, got {time_budget_s}")
        self.device = device or default_device()
        self.max_new_tokens = max_new_tokens
        # A generation still running after this many seconds is abandoned: the service
        # then answers extractively (degraded) instead of keeping the learner waiting.
        self.time_budget_s = time_budget_s
        adapter = Path(adapter) if adapter is not None else None
        if adapter is not None:
            check_adapter(adapter)  # before the (slow) model load
        self.model = model if adapter is None else f"{model}+{adapter.name}"
        # The adapter folder carries the tokenizer it was trained with (chat template included).
        has_tok = adapter is not None and (adapter / "tokenizer_config.json").is_file()
        self.tokenizer = load_tokenizer(str(adapter) if has_tok else model)
        lm = load_causal_lm(model, device=self.device)
        if adapter is not None:
            lm = load_adapter(lm, adapter)
        self._lm = lm.eval()
        config = self._lm.config
        self.context_tokens: int | None = getattr(config, "max_position_embeddings", None)
        self._eos_ids = self._stop_ids()
        pad = self.tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (self._eos_ids or [0])[0]
        # One model, one forward pass at a time: concurrent requests queue here.
        self._lock = threading.Lock()
        logger.info("local model %s loaded on %s", self.model, self.device)

    def count_tokens(self, text: str) -> int:
        """Tokens of this model's tokenizer (the service sizes prompts with it)."""
        return len(encode_text(self.tokenizer, text))

    def _stop_ids(self) -> list[int]:
        ids: list[int] = []
        for value in (self._lm.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if value is None:
                continue
            ids.extend(value if isinstance(value, list) else [value])
        # End-of-turn tokens of common chat formats, when the vocabulary has them.
        vocab = self.tokenizer.get_vocab()
        ids.extend(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
        return list(dict.fromkeys(ids))

    def _prepare(self, request: GenerationRequest) -> tuple[Any, dict[str, Any]]:
        import torch

        text = render_chat(self.tokenizer, request.messages, add_generation_prompt=True)
        ids = encode_text(self.tokenizer, text)
        if not ids:
            raise BadInputError("the chat messages rendered to an empty prompt")
        max_new = min(request.max_tokens, self.max_new_tokens)
        if max_new <= 0:
            raise BadInputError(f"max_tokens must be > 0, got {request.max_tokens}")
        if self.context_tokens is not None:
            room = self.context_tokens - len(ids)
            if room <= 0:
                # Not the learner's fault: the service degrades to its extractive answer.
                raise UpstreamModelError(
                    f"the prompt is {len(ids)} tokens but model {self.model!r} takes at most "
                    f"{self.context_tokens}: lower ASSISTANT_CONTEXT_TOKENS or ASSISTANT_TOP_K"
                )
            max_new = min(max_new, room)
        input_ids = torch.tensor([ids], device=self._lm.device)  # (1, T)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": max_new,
            "pad_token_id": self._pad_id,
            "eos_token_id": self._eos_ids or None,
        }
        if request.temperature <= 0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=request.temperature, top_p=1.0, top_k=0)
        return input_ids, kwargs

    def _finish(self, new_ids: list[int], max_new: int, reason: str | None) -> Generation:
        raw = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        text = trim_runaway(raw, new_ids, self._decode).strip() if reason else raw.strip()
        hit_limit = len(new_ids) >= max_new and (not new_ids or new_ids[-1] not in self._eos_ids)
        return Generation(
            text=text,
            usage=Usage(prompt_tokens=0, completion_tokens=len(new_ids), exact=True),
            model=self.model,
            finish_reason="length" if hit_limit and not reason else "stop",
        )

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def generate(self, request: GenerationRequest) -> Generation:
        """The whole answer at once (the stream, consumed)."""
        final: Generation | None = None
        for item in self.stream(request):
            if isinstance(item, Generation):
                final = item
        assert final is not None  # stream always ends with one
        return final

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Yield text deltas as the model writes them, then one final ``Generation``.

        Deltas trail the model by ``HOLD_BACK_CHARS`` so that a loop or prompt echo the
        stop rules cut is, as far as possible, never shown; the final text is the trimmed one.
        """
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()
        result: dict[str, Any] = {}
        with self._lock:
            input_ids, kwargs = self._prepare(request)
            n_prompt = input_ids.shape[1]
            deadline = None if self.time_budget_s is None else time.monotonic() + self.time_budget_s
            guard = RunawayGuard(deadline)
            streamer = TextIteratorStreamer(
                self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_STALL_S
            )
            rules = _StopRules(stop, guard, self.tokenizer, n_prompt)

            def run() -> None:
                try:
                    result["ids"] = self._lm.generate(
                        **kwargs, streamer=streamer, stopping_criteria=StoppingCriteriaList([rules])
                    )
                except BaseException as exc:
                    result["error"] = exc
                    streamer.end()  # wake the consumer, which then raises

            worker = threading.Thread(target=run, name="local-generate", daemon=True)
            worker.start()
            text, sent = "", 0
            try:
                for delta in streamer:
                    text += delta
                    safe = len(text) - HOLD_BACK_CHARS
                    if guard.reason is None and safe > sent:
                        yield text[sent:safe]
                        sent = safe
            except queue.Empty as exc:
                raise UpstreamTimeoutError(
                    f"local model {self.model!r} produced no token for {STREAM_STALL_S:.0f}s"
                ) from exc
            finally:
                # A consumer that stops early (client gone) ends generation at the next token.
                stop.set()
                worker.join()
            if "error" in result:
                error = result["error"]
                raise UpstreamModelError(f"local model {self.model!r} failed: {error}") from error
            if guard.reason == "time_budget":
                raise UpstreamTimeoutError(
                    f"local model {self.model!r} did not finish within its time budget of "
                    f"{self.time_budget_s:g}s (ASSISTANT_LLM_TIME_BUDGET_S)"
                )
            gen = self._finish(result["ids"][0, n_prompt:].tolist(), kwargs["max_new_tokens"], guard.reason)  # fmt: skip
        shown = text[:sent].lstrip()  # the final text is stripped; what was shown may not be
        if gen.text.startswith(shown) and len(gen.text) > len(shown):
            yield gen.text[len(shown) :]
        gen.usage.prompt_tokens = n_prompt
        yield gen
