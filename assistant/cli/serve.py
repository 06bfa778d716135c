"""`assistant serve`: the HTTP service (REST, OpenAI-compatible API, chat widget) in uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.option("--host", help="Bind address (ASSISTANT_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (ASSISTANT_PORT, default 8000).")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes.")
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
