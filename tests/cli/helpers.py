"""Running ``assistant ...`` in-process with a test's own ``ASSISTANT_*`` environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from assistant.cli import main
from assistant.embeddings import canonical_model_name
from assistant.settings import get_settings

MODEL = "all-MiniLM-L6-v2"  # the bundled model, whatever ASSISTANT_EMBEDDING_MODEL says outside
MODEL_NAME = canonical_model_name(MODEL)  # as manifests and the ledger record it
CONSOLE_SCRIPT = Path(sys.executable).parent / "assistant"  # installed next to this Python


class Cli:
    """Runs ``assistant ...`` in-process with this test's ``ASSISTANT_*`` environment."""

    def __init__(self, tmp_path: Path) -> None:
        self.index_dir = tmp_path / "index"
        self.db = tmp_path / "ledger.db"
        self.env = {
            "ASSISTANT_INDEX_DIR": str(self.index_dir),
            "ASSISTANT_CORPUS_DIR": str(tmp_path / "corpus"),
            "ASSISTANT_DATABASE_URL": f"sqlite:///{self.db}",
            "ASSISTANT_EMBEDDING_MODEL": MODEL,
            "ASSISTANT_URL_CACHE_DIR": str(tmp_path / "url-cache"),
            "ASSISTANT_URL_TIMEOUT_S": "2",
            "ASSISTANT_REDIS_URL": "",
            "ASSISTANT_LOG_LEVEL": "WARNING",
        }

    def __call__(self, *args: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(main, list(args), env=self.env)
        finally:
            get_settings.cache_clear()

    def json(self, *args: str) -> Any:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return json.loads(result.stdout)


def one_line_error(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # our handler exited; nothing escaped
    return error_line(result.stderr)


def error_line(stderr: str) -> str:
    """The one ``error: ...`` line, last on stderr (model-loading progress bars may precede it)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    assert "Traceback" not in stderr
    return errors[0]
