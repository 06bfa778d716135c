"""Checks that the deployment files speak the product's contract: settings, CLI, routes.

Each check returns a list of problems (empty when all is well) that name the file and the
field. The contract itself is read from the code, never restated here:
``assistant.settings.Settings`` for the ``ASSISTANT_*`` variables, the click CLI behind the
``assistant`` console script for commands, and the FastAPI app for probe paths.
"""

from __future__ import annotations

import difflib
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import pydantic
from click.testing import CliRunner
from starlette.routing import Match, Mount

from assistant.settings import Settings
from tests.docker.files import Found, env_name, rel

ENV_PREFIX = "ASSISTANT_"
CONSOLE_SCRIPT = "assistant"
# A whole name: `ASSISTANT_LLM_*` in prose is a wildcard, not a variable.
_ENV_NAME = re.compile(r"\bASSISTANT_[A-Z0-9_]+(?![A-Z0-9_*])")

# `assistant <args>` -> (exit code, output)
HelpRunner = Callable[[list[str]], tuple[int, str]]


def settings_env_names() -> set[str]:
    """``ASSISTANT_INDEX_DIR`` and its siblings: one per field of Settings."""
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def check_settings_names(paths: Iterable[Path], known: set[str] | None = None) -> list[str]:
    """Every ASSISTANT_* name written in the files (comments too) is a Settings field."""
    known = settings_env_names() if known is None else known
    problems = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name in _ENV_NAME.findall(line):
                if name not in known:
                    near = difflib.get_close_matches(name, sorted(known), n=1)
                    hint = f" (did you mean {near[0]}?)" if near else ""
                    problems.append(
                        f"{rel(path)}: line {number}: {name} is not a field of "
                        f"assistant.settings.Settings{hint}"
                    )
    return problems


def check_settings_values(found: Iterable[Found]) -> list[str]:
    """Every literal ASSISTANT_* value parses as Settings would parse it from the env."""
    problems = []
    known = settings_env_names()
    for item in found:
        name = env_name(item.field)
        value = item.value
        # Unset (compose's value-less entry) or interpolated by compose: nothing to parse.
        if not name.startswith(ENV_PREFIX) or name not in known or value is None:
            continue
        if "${" in str(value):
            continue
        # Init values go through the same validators as env values (lax str -> int etc.).
        values: dict[str, Any] = {"_env_file": None, name[len(ENV_PREFIX) :].lower(): str(value)}
        try:
            Settings(**values)
        except pydantic.ValidationError as exc:
            reason = "; ".join(error["msg"] for error in exc.errors())
            problems.append(f"{item.where} is {value!r}, which Settings rejects: {reason}")
    return problems


def click_help_runner(command: click.Command) -> HelpRunner:
    """Runs a click command in process, as the console script would."""

    def run(args: list[str]) -> tuple[int, str]:
        result = CliRunner().invoke(command, args, prog_name=CONSOLE_SCRIPT)
        return result.exit_code, result.output

    return run


def assistant_help_runner() -> HelpRunner:
    """The real CLI: ``assistant.cli:main`` (the console script's target in pyproject)."""
    from assistant import cli

    main: Any = cli.main
    if isinstance(main, click.Command):
        return click_help_runner(main)

    # A plain function wrapping the group: run it as the console script runs it.
    def run(args: list[str]) -> tuple[int, str]:
        code = "import sys; from assistant.cli import main; sys.exit(main())"
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr

    return run


def check_cli_commands(
    found: Iterable[Found], run_help: HelpRunner, script: str = CONSOLE_SCRIPT
) -> list[str]:
    """Each argv is ``assistant <command> [options]`` and that command exists (a leaf, not a
    group) and accepts those options: ``--help`` parses the options but converts no values."""
    problems = []
    for item in found:
        argv: Sequence[str] = item.value
        shown = shlex.join(argv)
        if not argv or argv[0] != script:
            problems.append(
                f"{item.where} is {list(argv)!r}, expected the console script {script!r} first"
            )
            continue
        words = []
        for arg in argv[1:]:
            if arg.startswith("-"):
                break
            words.append(arg)
        code, output = run_help([*argv[1:], "--help"])
        last = (output.strip().splitlines() or ["(no output)"])[-1]
        usage = next((ln for ln in output.splitlines() if ln.startswith("Usage:")), "")
        if code != 0:
            problems.append(f"{item.where}: `{shown}` is not accepted by the CLI: {last}")
        elif " ".join(words) not in usage:
            problems.append(f"{item.where}: `{shown}` resolves to {usage!r}, not to a command")
        elif "COMMAND [ARGS]" in usage:
            problems.append(
                f"{item.where}: `{shown}` names a command group, not a command ({usage!r})"
            )
    return problems


def get_router(app: Any) -> Callable[[str], bool]:
    """Whether the app routes ``GET <path>`` to an endpoint, asked the way Starlette routes a
    request (``route.matches``), so included routers and prefixes count; a Mount (static
    files) matching everything below it does not."""

    def routes(path: str) -> bool:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
        return any(
            route.matches(scope)[0] == Match.FULL and not isinstance(route, Mount)
            for route in app.routes
        )

    return routes


def check_http_paths(found: Iterable[Found], routes: Callable[[str], bool]) -> list[str]:
    """Every probed path is a GET route of the app; ``found`` values are (port, path)."""
    return [
        f"{item.where} probes {item.value[1]!r}, which no GET route of the app serves"
        for item in found
        if not routes(item.value[1])
    ]
