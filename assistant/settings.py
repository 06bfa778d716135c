"""Settings: every knob comes from an ``ASSISTANT_*`` environment variable or ``.env``.

Only entry points (the CLI, the FastAPI lifespan, the build job) read settings; core
classes take plain constructor arguments. ``get_settings()`` is cached so tests can
call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """All configuration of the study assistant (env prefix ``ASSISTANT_``)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- corpus and index -------------------------------------------------------------
    corpus_dir: Path = Field(
        Path("corpus"), description="Study corpus root (sources.toml optional)."
    )
    index_dir: Path = Field(Path("var/index"), description="Where index versions are published.")
    keep_versions: int = Field(3, ge=1, description="Published index versions kept on disk.")
    url_cache_dir: Path | None = Field(
        None, description="HTTP cache for URL sources; default <index_dir>/../url-cache."
    )
    allow_private_urls: bool = Field(
        False, description="Allow URL sources on loopback/private/link-local addresses."
    )
    url_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDR networks URL sources may use even if private, e.g. 10.1.2.0/24.",
    )
    url_timeout_s: float = Field(15.0, gt=0, description="Per-URL fetch timeout in seconds.")
    url_max_bytes: int = Field(10_000_000, gt=0, description="Largest URL response accepted.")
    url_refresh_s: float = Field(
        86_400.0, ge=0, description="Use a URL's cached copy without asking the network this long."
    )
    url_retry_s: float = Field(
        600.0, ge=0, description="Retry a URL the network failed (no cached copy) after this long."
    )
    max_file_bytes: int = Field(50_000_000, gt=0, description="Largest corpus file accepted.")

    # --- embeddings and chunking --------------------------------------------------------
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL, description="sentence-transformers model name or path."
    )
    embedding_device: str | None = Field(
        None, description="torch device for embeddings (cpu, cuda); auto by default."
    )
    embedding_batch_size: int = Field(64, gt=0, description="Batch size for document embedding.")
    # Measured by bench/embedding_backends.py (chunks/s, cosine to torch, held-out recall@5):
    # int8 embeds 2.2x faster than torch at held-out recall@5 within 0.01, with no torch.
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="Embedding runtime; recorded in the index manifest, a mismatch is refused.",
    )
    embedding_cache_dir: Path | None = Field(
        None,
        description="Where ONNX exports are cached; default ~/.cache/study-assistant/onnx.",
    )
    embedding_threads: int = Field(
        0, ge=0, description="ONNX Runtime threads per process (0 = one per CPU core)."
    )
    onnx_batch_size: int = Field(
        32,
        gt=0,
        description=(
            "Texts per ONNX Runtime call (sorted by length, padded per batch). With dynamic "
            "int8 quantisation a batch's activations share one scale, so a vector moves "
            "slightly with its batch (cosine about 0.98); 1 makes it depend on its text alone."
        ),
    )
    query_prompt: str | None = Field(
        None, description="Prompt name/text for queries (models that define one)."
    )
    document_prompt: str | None = Field(None, description="Prompt name/text for documents.")
    chunk_size: int = Field(200, gt=16, description="Chunk size in embedding-model tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Overlap between chunks in tokens.")

    # --- retrieval ---------------------------------------------------------------------
    index_type: Literal["auto", "flat", "hnsw", "ivfpq"] = Field(
        "auto", description="FAISS index type."
    )
    hnsw_threshold: int = Field(
        50_000, gt=0, description="With index_type=auto, HNSW at or above this many chunks."
    )
    ivfpq_threshold: int = Field(
        1_000_000,
        gt=0,
        description="With index_type=auto, IVF-PQ (re-ranked exactly) at or above this many chunks.",
    )
    top_k: int = Field(5, gt=0, le=50, description="Passages returned by default.")
    # Measured by bench/heldout_docs.py: weighted fusion at 0.6 dense is the one setting that
    # beats dense and BM25 alone on the project's set and on held-out Python docs, both as
    # written and paraphrased (reciprocal rank fusion lost to dense on paraphrases).
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted", description="How dense and BM25 rankings are fused."
    )
    dense_weight: float = Field(0.6, ge=0, le=1, description="Dense share in the fusion.")
    rrf_k: int = Field(60, gt=0, description="Reciprocal rank fusion constant.")
    candidates: int = Field(
        50, gt=0, description="Candidates taken from each retriever before fusion."
    )
    min_score: float = Field(
        0.2, description="Below this dense similarity the top passage counts as irrelevant."
    )
    min_sentence_score: float = Field(
        0.25,
        ge=0,
        description="Below this similarity of the passages' best sentence (or listed part) "
        "the question counts as not covered (0: off).",
    )
    reranker_model: str | None = Field(
        None, description="Optional cross-encoder name or path for reranking."
    )
    reload_interval_s: float = Field(
        5.0, ge=0, description="Poll for a newly published index (0 = never)."
    )
    eval_min_recall: float = Field(
        0.0,
        ge=0,
        le=1,
        description="`index build --eval` refuses to publish below this hit_rate@5 (share of "
        "questions with a relevant chunk in the top 5; called recall@5 before ranx).",
    )

    # --- generation --------------------------------------------------------------------
    llm_backend: Literal["extractive", "openai", "local"] = Field(
        "extractive", description="Answer generator."
    )
    llm_model: str | None = Field(None, description="Model name (openai) or name/path (local).")
    llm_base_url: str = Field(
        "https://api.openai.com/v1", description="OpenAI-compatible endpoint."
    )
    llm_api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible endpoint."
    )
    llm_adapter: Path | None = Field(
        None, description="peft LoRA adapter directory for the local backend."
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="Read timeout for the remote model.")
    llm_stall_timeout_s: float = Field(
        15.0,
        gt=0,
        description="A model stream silent this long counts as failed (extractive fallback).",
    )
    llm_max_retries: int = Field(
        2, ge=0, description="Retries on 408/409/429/5xx, connection errors and connect timeouts."
    )
    llm_max_retry_after_s: float = Field(
        10.0,
        ge=0,
        description="Longest Retry-After honoured; a provider asking for more gets the fallback.",
    )
    llm_max_concurrency: int = Field(
        8,
        ge=1,
        le=32,
        description="Model calls in flight per process (keep below the 40 worker threads); "
        "a question finding no free slot is answered extractively (degraded).",
    )
    llm_queue_wait_s: float = Field(
        0.5, ge=0, description="How long a question waits for a free model slot."
    )
    llm_max_tokens: int = Field(512, gt=0, description="Completion token limit.")
    llm_engine: Literal["auto", "transformers", "llamacpp"] = Field(
        "auto",
        description="Local backend engine: llamacpp (GGUF models, several times faster on "
        "CPU), transformers, or auto (llama.cpp when installed and the model is a GGUF).",
    )
    llm_time_budget_s: float | None = Field(
        30.0,
        gt=0,
        description="Local model: a generation still running after this many seconds is "
        "abandoned and the answer falls back to extractive (degraded).",
    )
    llm_temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature.")
    llm_reasoning_models: str = Field(
        r"(^|/)(o\d|gpt-5)",
        description="Regex searched in the openai backend's model name: matching (reasoning) "
        "models get max_completion_tokens and no temperature.",
    )
    context_tokens: int = Field(1500, gt=0, description="Token budget for passages in the prompt.")

    # --- cache -------------------------------------------------------------------------
    redis_url: str | None = Field(None, description="Redis URL; in-process cache when unset.")
    redis_timeout_s: float = Field(0.25, gt=0, description="Socket timeout for Redis calls.")
    cache_ttl_s: int = Field(86_400, gt=0, description="Cached answer lifetime.")
    cache_max_entries: int = Field(2048, gt=0, description="In-process cache size.")
    hot_answer_ttl_s: float = Field(
        60.0,
        ge=0,
        description="How long each process keeps the answers it last served decoded (0: off).",
    )
    semantic_cache: bool = Field(True, description="Serve answers of near-identical questions.")
    semantic_threshold: float = Field(
        0.92, gt=0, le=1, description="Cosine similarity for a semantic hit."
    )

    # --- cost ledger -------------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///var/ledger.db", description="SQLAlchemy URL of the cost ledger."
    )
    ledger_spill_dir: Path | None = Field(
        None,
        description="Local folder for ledger rows the database could not take yet (replayed "
        "later); default <index_dir>/../ledger-spill.",
    )
    ledger_max_queue: int = Field(
        20_000, gt=0, description="Ledger rows held in memory before they go to the spill folder."
    )
    pricing_file: Path | None = Field(None, description="TOML pricing table (USD per 1M tokens).")

    # --- HTTP service ------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Bind address for `assistant serve`.")
    port: int = Field(8000, gt=0, lt=65536, description="Port for `assistant serve`.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted client API keys (empty = open)."
    )
    admin_key: SecretStr | None = Field(None, description="Key for /v1/costs and /v1/admin/*.")
    rate_limit_per_minute: int = Field(
        120, ge=0, description="Requests per key (or client IP) per minute; 0 = off."
    )
    # Client identity and abuse limits (README "Security").
    public_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Client keys that are public (a widget's data-key): accepted like "
        "api_keys, but rate limited per key and client address.",
    )
    auth_failures_per_minute: int = Field(
        10, ge=0, description="Failed authentications per client address per minute; 0 = off."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers are "
        "believed (empty = none: the TCP peer is the client).",
    )
    trusted_proxy_header: Literal["x-forwarded-for", "forwarded"] = Field(
        "x-forwarded-for", description="The header trusted proxies set (only that one is read)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed to call the API (widget hosts)."
    )
    max_question_chars: int = Field(2000, gt=0, description="Longest accepted question.")
    max_instruction_chars: int = Field(
        2000,
        ge=0,
        description="Longest system-message text a /v1/chat/completions client may add to the "
        "system prompt (0 = refuse system messages).",
    )
    max_body_bytes: int = Field(65_536, gt=0, description="Largest accepted request body.")
    log_level: str = Field("INFO", description="Logging level for entry points.")
    server_url: str | None = Field(
        None,
        description="A running `assistant serve` (e.g. http://127.0.0.1:8000) that "
        "`assistant search`/`ask` use instead of loading the model; unset = always local.",
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        size = info.data.get("chunk_size", 200)
        if v >= size:
            raise ValueError(f"chunk_overlap must be < chunk_size ({size}), got {v}")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {net!r} is not a CIDR network") from None
        return v

    @field_validator(
        "api_keys",
        "public_keys",
        "cors_origins",
        "url_allowed_networks",
        "trusted_proxies",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, v: object) -> object:
        # Accept "a,b" as well as a JSON list, so env files stay readable.
        if isinstance(v, str):
            if v.strip().startswith("["):
                return json.loads(v)
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @property
    def resolved_embedding_cache_dir(self) -> Path:
        if self.embedding_cache_dir is not None:
            return self.embedding_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "study-assistant" / "onnx"

    @property
    def resolved_url_cache_dir(self) -> Path:
        return self.url_cache_dir or self.index_dir.parent / "url-cache"

    @property
    def resolved_ledger_spill_dir(self) -> Path:
        return self.ledger_spill_dir or self.index_dir.parent / "ledger-spill"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
