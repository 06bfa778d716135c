"""Commands that need no model start without importing torch, transformers or FAISS.

Each runs in a fresh interpreter (the console script's way in) and reports which heavy
modules ended up in ``sys.modules``; a stray top-level import anywhere on the path of
`--help`, `--version`, `index status` or `costs` fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "bm25s", "peft")
PROBE = """
import json, sys
from assistant.cli import main
try:
    main(sys.argv[1:], prog_name="assistant")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def run_cli(args: list[str], tmp_path: Path) -> tuple[dict[str, object], str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report, proc.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["index", "status"], ["costs"], ["costs", "--json"],
     ["search", "--help"], ["finetune", "train", "--help"]],
    ids=" ".join,
)  # fmt: skip
def test_light_commands_import_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    report, stdout = run_cli(args, tmp_path)
    assert report["heavy"] == [], f"`assistant {' '.join(args)}` imported {report['heavy']}"
    if args == ["--version"]:
        assert report["code"] in (0, None) and stdout.startswith("assistant, version ")
    if args == ["index", "status"]:
        assert report["code"] == 1  # no index published in tmp_path: the one-line error
    if args[0] == "costs":
        assert report["code"] in (0, None)
