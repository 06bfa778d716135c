"""The `assistant` group itself: --version, the log level, settings that do not parse."""

from __future__ import annotations

import logging
from importlib.metadata import version
from pathlib import Path

import pytest

from assistant.cli.root import log_level
from assistant.errors import BadInputError
from assistant.settings import Settings
from tests.cli.helpers import Cli, one_line_error


def test_version_names_the_installed_package(tmp_path: Path) -> None:
    result = Cli(tmp_path)("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"assistant, version {version('study-assistant')}"


@pytest.mark.parametrize(
    ("configured", "verbose", "expected"),
    [
        (None, False, logging.WARNING),  # the setting's default (INFO) is the server's
        (None, True, logging.INFO),
        ("ERROR", False, logging.ERROR),
        ("ERROR", True, logging.INFO),
        ("debug", False, logging.DEBUG),
        ("DEBUG", True, logging.DEBUG),  # -v never hides what the setting asked for
    ],
)
def test_log_level_honours_the_setting_and_v(
    configured: str | None, verbose: bool, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSISTANT_LOG_LEVEL", raising=False)
    given = {} if configured is None else {"log_level": configured}
    settings = Settings(_env_file=None, **given)  # type: ignore[call-arg]
    assert log_level(settings, verbose) == expected


def test_an_unknown_log_level_is_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"ASSISTANT_LOG_LEVEL must be .* got 'LOUD'"):
        log_level(Settings(log_level="LOUD"), False)


def test_a_setting_that_does_not_parse_is_a_one_line_error(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.env["ASSISTANT_TOP_K"] = "many"
    line = one_line_error(cli("index", "status"), 2)
    assert line.startswith("error: invalid setting: top_k: ")
