"""Shared fixtures, scoped by cost: the embedding model once per session, servers checked once."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The bundled all-MiniLM-L6-v2 on the default backend, loaded once for the whole run."""
    from tests.support.embedders import default_embedder

    return default_embedder()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis; the suite fails (never skips) when it is not running."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} (run `make services`): {exc}")
    return REDIS_URL


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    """The test database of the shared Redis, flushed before and after the test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL; the suite fails (never skips) when it is not running."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as exc:
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} (run `make services`): {exc}")
    finally:
        engine.dispose()
    return POSTGRES_URL


# ----------------------------------------------------------------------------- index + server
def build_corpus_index(embedder, corpus: Path, index_dir: Path, **kw):  # type: ignore[no-untyped-def]
    """Build (or incrementally rebuild) an index; URL sources are skipped (no fetcher)."""
    from indexing.build import BuildOptions, build_index

    return build_index(BuildOptions(corpus=corpus, index_dir=index_dir, **kw), embedder)


@pytest.fixture(scope="session")
def corpus_index(embedder, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The project's real corpus, indexed once per session (read-only for tests!)."""
    index_dir = tmp_path_factory.mktemp("corpus-index")
    build_corpus_index(embedder, CORPUS, index_dir)
    return index_dir


def make_settings(index_dir: Path, tmp_path: Path, **overrides):  # type: ignore[no-untyped-def]
    """Settings for a test service: its own ledger file, no reload polling unless asked."""
    from assistant.settings import Settings

    base = {
        "index_dir": index_dir,
        "corpus_dir": CORPUS,
        "database_url": f"sqlite:///{tmp_path / 'ledger.db'}",
        "reload_interval_s": 0,
        "rate_limit_per_minute": 0,
    }
    base.update(overrides)
    return Settings(**base)


class LiveServer:
    """A real uvicorn server on loopback running ``api.app.create_app`` in a thread."""

    def __init__(self, settings, embedder=None) -> None:  # type: ignore[no-untyped-def]
        self.settings = settings
        self.embedder = embedder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None
        self._thread = None

    def __enter__(self) -> LiveServer:
        import threading
        import time

        import httpx
        import uvicorn

        from api.app import create_app
        from api.clientaddr import uvicorn_options
        from assistant.factory import make_assistant

        assistant = make_assistant(self.settings, embedder=self.embedder)
        self.app = create_app(self.settings, assistant=assistant)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **uvicorn_options(),  # as `assistant serve` runs it
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server on {self.url} did not start")

    @property
    def assistant(self):  # type: ignore[no-untyped-def]
        return self.app.state.assistant_state.assistant

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
