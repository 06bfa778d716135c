"""The `assistant` group: process set-up (environment, logging) and the command groups.

Examples:
    assistant index build                 # incremental build of ./corpus into var/index
    assistant index build --full --eval   # re-embed everything, refuse to publish below the recall floor
    assistant search "what is ridge regression" --k 3
    assistant ask "when should I use Lasso instead of Ridge?" --json
    assistant serve --port 8000
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import click

from assistant.cli import coach, costs, evaluate, finetune, index, query, serve
from assistant.cli.common import ErrorReportingGroup, settings_with

if TYPE_CHECKING:
    from assistant.settings import Settings

# Set in main(), before any command imports torch or transformers; a value already in the
# environment wins, so `HF_HUB_DISABLE_PROGRESS_BARS=0 assistant ...` shows the bars again.
ENV_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",  # the bundled model; never a download in the middle of a command
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    # transformers draws a "Loading weights" bar on every model load: noise on each search.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_level(settings: Settings, verbose: bool) -> int:
    """ASSISTANT_LOG_LEVEL when it is set; else WARNING. ``-v`` lowers it to INFO at most.

    The setting's default (INFO) is meant for the server; a command prints its result on
    stdout and keeps stderr for warnings unless asked.
    """
    configured = logging.WARNING
    if "log_level" in settings.model_fields_set:
        name = settings.log_level.upper()
        level = logging.getLevelName(name)
        if not isinstance(level, int):
            from assistant.errors import BadInputError

            raise BadInputError(
                f"ASSISTANT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}"
            )
        configured = level
    return min(configured, logging.INFO) if verbose else configured


@click.group(cls=ErrorReportingGroup)
@click.version_option(package_name="study-assistant", prog_name="assistant")
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
def main(verbose: bool) -> None:
    """Study assistant for the Machine Learning Engineer Roadmap (2026)."""
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    level = log_level(settings_with(), verbose)
    logging.basicConfig(level=level, format=LOG_FORMAT)
    # The handler filters too: bm25s sets its own logger to DEBUG when it is imported (after
    # this), and a record passes its own logger's level only.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    # Third-party chatter that says nothing to a user of this tool.
    logging.getLogger("bm25s").setLevel(max(level, logging.WARNING))


main.add_command(index.index)
main.add_command(query.search)
main.add_command(query.ask)
main.add_command(serve.serve)
main.add_command(evaluate.eval_cmd)
main.add_command(costs.costs)
main.add_command(finetune.finetune)
main.add_command(coach.quiz)
main.add_command(coach.progress)
