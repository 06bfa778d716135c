"""The one place that turns `Settings` into objects (embedder, generator, cache, ledger...).

Each part is imported inside the function that builds it: `assistant search` needs the
embedder and the retriever, not the coach, the ledger's migrations or Redis, and pays
only for what it builds (a fresh CLI process is mostly imports).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from assistant.errors import AssistantError, ConfigError

if TYPE_CHECKING:
    from assistant.coach import StudyCoach
    from assistant.conversation_log import SqlConversationLog
    from assistant.embeddings import SentenceTransformerEmbedder
    from assistant.feedback_store import SqlFeedbackStore
    from assistant.ledger import SqlCostLedger
    from assistant.onnx_embedder import OnnxEmbedder
    from assistant.protocols import (
        Cache,
        Embedder,
        Generator,
        Pricing,
        RateLimiter,
        SemanticLookup,
    )
    from assistant.retrieval import HybridRetriever
    from assistant.service import StudyAssistant
    from assistant.settings import Settings
    from assistant.shared_engine import SharedEngine
    from assistant.support import SupportCheck

logger = logging.getLogger(__name__)


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder | OnnxEmbedder:
    """The embedder of ``ASSISTANT_EMBEDDING_BACKEND``; models load on first use where they can."""
    if settings.embedding_backend in ("onnx", "onnx-int8"):
        from assistant.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(
            settings.embedding_model,
            cache_dir=settings.resolved_embedding_cache_dir,
            quantized=settings.embedding_backend == "onnx-int8",
            batch_size=settings.onnx_batch_size,
            threads=settings.embedding_threads,
            query_prompt=settings.query_prompt,
            document_prompt=settings.document_prompt,
        )
    from assistant.embeddings import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        settings.embedding_model,
        device=settings.embedding_device,
        batch_size=settings.embedding_batch_size,
        query_prompt=settings.query_prompt,
        document_prompt=settings.document_prompt,
    )


def make_retriever(settings: Settings) -> HybridRetriever:
    from assistant.retrieval import HybridRetriever, load_reranker

    reranker = load_reranker(settings.reranker_model) if settings.reranker_model else None
    return HybridRetriever(
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        candidates=settings.candidates,
        reranker=reranker,
    )


def make_generator(
    settings: Settings, embedder: Embedder, support: SupportCheck | None = None
) -> tuple[Generator, Generator]:
    """(configured generator, extractive fallback); the fallback reads its sentence vectors
    from ``support`` when given (each passage's sentences embedded once for both)."""
    from assistant.generation.extractive import ExtractiveGenerator

    extractive = ExtractiveGenerator(embedder, sentences=support.sentences if support else None)
    if settings.llm_backend == "extractive":
        return extractive, extractive
    if not settings.llm_model:
        raise ConfigError(f"ASSISTANT_LLM_BACKEND={settings.llm_backend} needs ASSISTANT_LLM_MODEL")
    if settings.llm_backend == "openai":
        from assistant.generation.openai import OpenAIGenerator

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return (
            OpenAIGenerator(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=key,
                timeout_s=settings.llm_timeout_s,
                stall_timeout_s=settings.llm_stall_timeout_s,
                max_retries=settings.llm_max_retries,
                max_retry_after_s=settings.llm_max_retry_after_s,
                max_concurrency=settings.llm_max_concurrency,
                queue_wait_s=settings.llm_queue_wait_s,
                reasoning_models=settings.llm_reasoning_models,
            ),
            extractive,
        )
    from assistant.generation.llamacpp import make_local_generator

    local = make_local_generator(
        settings.llm_model,
        settings.llm_adapter,
        settings.llm_engine,
        settings.llm_max_tokens,
        settings.llm_time_budget_s,
    )
    return local, extractive


def make_cache(settings: Settings) -> tuple[Cache, SemanticLookup | None]:
    """(answer cache, semantic cache or None)."""
    from assistant.cache import MemoryCache
    from assistant.semantic_cache import SemanticCache

    cache: Cache
    semantic: SemanticLookup | None = None
    if settings.redis_url:
        from assistant.redis_cache import RedisCache  # redis-py only when configured

        cache = RedisCache(settings.redis_url, timeout_s=settings.redis_timeout_s)
        if settings.semantic_cache:
            semantic = SemanticCache.redis(
                settings.redis_url,
                threshold=settings.semantic_threshold,
                timeout_s=settings.redis_timeout_s,
            )
    else:
        cache = MemoryCache(settings.cache_max_entries)
        if settings.semantic_cache:
            semantic = SemanticCache.in_memory(threshold=settings.semantic_threshold)
    return cache, semantic


def make_database(settings: Settings) -> SharedEngine:
    """The ledger's database, migrated: one engine (connection pool) for all its stores.

    The ledger, the conversation log, the coach's store and the feedback store each hold
    it; the last of them to close disposes it.
    """
    from assistant.shared_engine import SharedEngine

    return SharedEngine.open(settings.database_url)


def make_ledger(settings: Settings, database: SharedEngine | None = None) -> SqlCostLedger:
    """The cost ledger (a ``CostLedger``; the build job also records its builds in it).

    Every row it records is also counted in the Prometheus metrics (``assistant.metrics``).
    Without ``database`` it opens (and on close disposes) an engine of its own.
    """
    from assistant.ledger import SqlCostLedger
    from assistant.metrics import observe_answer

    return SqlCostLedger(
        settings.database_url if database is None else None,
        engine=database,
        spill_dir=settings.resolved_ledger_spill_dir,
        max_queue=settings.ledger_max_queue,
        on_record=observe_answer,
    )


def make_conversation_log(
    settings: Settings, database: SharedEngine | None = None
) -> SqlConversationLog:
    """Stored conversations, in the ledger's database, written in the background."""
    from assistant.conversation_log import SqlConversationLog

    return SqlConversationLog(
        database or make_database(settings),
        # Not the ledger's own folder: a spill folder replays its files as one row type.
        spill_dir=settings.resolved_ledger_spill_dir / "conversations",
        max_queue=settings.ledger_max_queue,
    )


def shared_database(assistant: StudyAssistant, settings: Settings) -> SharedEngine | None:
    """The engine the service's ledger holds, when it is open on ``settings.database_url``:
    the coach and the feedback store join it instead of opening pools of their own."""
    from assistant.shared_engine import SharedEngine

    database = getattr(assistant.ledger, "database", None)
    if (
        isinstance(database, SharedEngine)
        and database.url == settings.database_url
        and not database.disposed
    ):
        return database
    return None


def make_pricing(settings: Settings) -> Pricing:
    from assistant.pricing import PricingTable

    if settings.pricing_file:
        return PricingTable.from_toml(settings.pricing_file)
    return PricingTable.default()


def make_assistant(
    settings: Settings, *, embedder: Embedder | None = None, warm: bool = True
) -> StudyAssistant:
    """Everything the service needs, wired from settings; loads the index if published.

    ``warm``: load the embedder now (a server, so its first request does not pay for it);
    a one-shot command passes False and loads only what its one question needs.
    """
    from assistant.embeddings import QueryMemoEmbedder
    from assistant.grounding import Grounding
    from assistant.protocols import TokenWindow
    from assistant.roadmap import Roadmap
    from assistant.service import StudyAssistant
    from assistant.support import SupportCheck

    inner = embedder or make_embedder(settings)
    if warm and getattr(inner, "loaded", True) is False:
        # Embedders load lazily (a build may need none); a service loads before it is ready,
        # so the first request does not pay for it.
        inner.embed_query("warm up")
        inner.embed_documents(["warm up " * 48])  # a batch, as answers embed sentences
    memo = QueryMemoEmbedder(inner)
    support = SupportCheck(memo, settings.min_sentence_score)
    generator, fallback = make_generator(settings, memo, support)
    cache, semantic = make_cache(settings)
    database = make_database(settings)  # one pool, migrated once, for the ledger and history
    assistant = StudyAssistant(
        index_dir=settings.index_dir,
        embedder=memo,
        retriever=make_retriever(settings),
        generator=generator,
        fallback=fallback,
        cache=cache,
        semantic=semantic,
        ledger=make_ledger(settings, database),
        history=make_conversation_log(settings, database),
        pricing=make_pricing(settings),
        roadmap=Roadmap.from_file(settings.corpus_dir / "roadmap.md"),
        grounding=Grounding(memo),
        support=support,
        window=generator if isinstance(generator, TokenWindow) else None,
        top_k=settings.top_k,
        min_score=settings.min_score,
        context_tokens=settings.context_tokens,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        cache_ttl_s=settings.cache_ttl_s,
        hot_answer_ttl_s=settings.hot_answer_ttl_s,
        max_question_chars=settings.max_question_chars,
    )
    try:
        assistant.reload()
    except AssistantError as exc:
        # A bad index must not crash-loop the service: start not ready, /ready says why.
        logger.error("NO VALID INDEX: starting not ready: %s", exc)
    return assistant


def make_rate_limiter(settings: Settings) -> RateLimiter | None:
    """Per-key limits; shared through Redis when it is configured, else per process."""
    if settings.rate_limit_per_minute <= 0:
        return None
    from assistant.ratelimit import MemoryRateLimiter, RedisRateLimiter

    if settings.redis_url:
        return RedisRateLimiter(
            settings.redis_url, settings.rate_limit_per_minute, timeout_s=settings.redis_timeout_s
        )
    return MemoryRateLimiter(settings.rate_limit_per_minute)


def make_coach(
    settings: Settings, embedder: Embedder, database: SharedEngine | None = None
) -> StudyCoach:
    """The study coach, storing learners' cards in the ledger's database."""
    from assistant.coach import AnswerGrader, SqlCoachStore, StudyCoach
    from assistant.roadmap import Roadmap

    return StudyCoach(
        SqlCoachStore(database or make_database(settings)),
        AnswerGrader(embedder),
        Roadmap.from_file(settings.corpus_dir / "roadmap.md"),
    )


def make_feedback(settings: Settings, database: SharedEngine | None = None) -> SqlFeedbackStore:
    """Learners' ratings of answers, in the ledger's database."""
    from assistant.feedback_store import SqlFeedbackStore

    return SqlFeedbackStore(database or make_database(settings))
