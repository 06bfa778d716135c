"""`assistant serve`: the HTTP service (REST, OpenAI-compatible API, chat widget) in uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import click


@click.command()
@click.option("--host", help="Bind address (ASSISTANT_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (ASSISTANT_PORT, default 8000).")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="uvicorn worker processes (/metrics then merges all of them).",
)
def serve(host: str | None, port: int | None, index_dir: Path | None, workers: int) -> None:
    """Run the HTTP service (REST, OpenAI-compatible API, chat widget).

    Example: assistant serve --host 0.0.0.0 --port 8000
    """
    import uvicorn

    from api.clientaddr import uvicorn_options
    from assistant.settings import get_settings

    if index_dir is not None:
        # The app factory reads settings in each worker process: hand the flag on by environment.
        os.environ["ASSISTANT_INDEX_DIR"] = str(index_dir)
        get_settings.cache_clear()
    s = get_settings()
    cleanup = None
    if workers > 1:
        # After this process's imports (with the folder already set they made files of
        # their own, which must go: a gauge that is never set would read 0 as a "live"
        # process), before the workers start: each one's prometheus_client reads it at import.
        cleanup = prepare_multiprocess_dir()
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host or s.host,
            port=port or s.port,
            workers=workers,
            log_level=s.log_level.lower(),
            access_log=False,
            **uvicorn_options(),  # forwarded headers: only ASSISTANT_TRUSTED_PROXIES, in the app
        )
    finally:
        if cleanup is not None:
            cleanup()


def prepare_multiprocess_dir() -> Callable[[], None]:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty folder for this run; returns its cleanup.

    A folder the operator set is emptied of earlier runs' files (and kept afterwards);
    without one a fresh temporary folder is made and removed when the server stops.
    """
    from api.metrics import MULTIPROC_ENV  # where each worker's metrics live

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return lambda: None
    made = tempfile.mkdtemp(prefix="assistant-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return lambda: shutil.rmtree(made, ignore_errors=True)
