"""Start-up and per-request work cut in issue 16, checked for sameness (no timings here).

- The ledger skips Alembic when the database is already at head (one SELECT), and the
  head it reads from ``versions/`` is Alembic's own.
- ``Usage``/``Citation`` JSON and the ledger's row values are what ``asdict`` gave.
- The build job imports no parser, splitter or database library it does not use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from assistant.ledger import QueryCost, SqlCostLedger, _row_values
from assistant.migrations import at_head, declared_head, head_revision, upgrade_schema
from assistant.types import Citation, Usage
from tests.conftest import REPO


def test_declared_head_is_alembics_head() -> None:
    assert declared_head() == head_revision()


def test_at_head_only_after_the_migration(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        assert not at_head(engine)  # no revision table yet
        upgrade_schema(engine)
        assert at_head(engine)
        with engine.begin() as conn:  # a database behind the code is not "at head"
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
        assert not at_head(engine)
        upgrade_schema(engine)  # Alembic runs again and brings it back
        assert at_head(engine)
    finally:
        engine.dispose()


def _fresh_process(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_opening_a_migrated_ledger_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    SqlCostLedger(url).close()  # migrates
    got = _fresh_process(
        "import json, sys\n"
        "from assistant.ledger import SqlCostLedger\n"
        f"SqlCostLedger({url!r}).close()\n"
        "print(json.dumps({'alembic': 'alembic' in sys.modules}))"
    )
    assert got == {"alembic": False}


def test_build_job_imports_only_what_it_uses() -> None:
    unused = ["sqlalchemy", "alembic", "bs4", "pypdf", "nbformat", "langchain_text_splitters",
              "torch", "transformers", "httpx", "scipy", "numba"]  # fmt: skip
    got = _fresh_process(
        "import json, sys\n"
        "import indexing, assistant.cli.index\n"
        f"print(json.dumps({{m: m in sys.modules for m in {unused!r}}}))"
    )
    assert got == dict.fromkeys(unused, False)


def test_bm25_hides_scipy_and_numba_only_while_it_imports() -> None:
    """bm25s would import both for backends BM25 here never uses; they stay importable."""
    got = _fresh_process(
        "import json, sys\n"
        "import assistant.sparse\n"
        "hidden = {m: m in sys.modules for m in ('scipy', 'numba')}\n"
        "import scipy.sparse\n"
        "from assistant.sparse import Bm25Index\n"
        "scores = Bm25Index.build(['ridge regression', 'dropout layers']).scores('dropout')\n"
        "print(json.dumps({'hidden': hidden, 'scipy': 'scipy.sparse' in sys.modules,\n"
        "                  'best': int(scores.argmax())}))"
    )
    assert got == {"hidden": {"scipy": False, "numba": False}, "scipy": True, "best": 1}


def test_json_of_usage_citation_and_ledger_rows_is_unchanged() -> None:
    usage = Usage(prompt_tokens=3, completion_tokens=5, exact=False, cost_usd=0.25)
    assert usage.to_json() == asdict(usage)
    cite = Citation(1, "c1", "notes/a.md", "A", "A > B", None, "snippet", 0.5, [3, 4])
    assert cite.to_json() == asdict(cite)
    assert cite.to_json()["phases"] is not cite.phases  # a copy, as asdict made
    row = QueryCost(ts=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), request_id="r",
                    key_id="k", backend="b", model="m", endpoint="ask", cost_usd=0.1)  # fmt: skip
    assert _row_values(row) == asdict(row)
