"""What every command module shares: errors as one line, settings with flag overrides, output."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from assistant.errors import AssistantError, BadInputError

if TYPE_CHECKING:  # imported when a command runs: pydantic-settings is most of a bare start
    from assistant.settings import Settings


class ErrorReportingGroup(click.Group):
    """Turns our errors into a one-line message and exit status 1 (2 for bad input)."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        if args is None:  # the process's own command line: the console script, `python -m`
            own_process()
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssistantError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2 if isinstance(exc, BadInputError) else 1)
        except ValueError as exc:
            from pydantic import ValidationError

            if not isinstance(exc, ValidationError):
                raise
            # An ASSISTANT_* variable that does not parse.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            click.echo(f"error: invalid setting: {problems}", err=True)
            sys.exit(2)


def settings_with(**overrides: Any) -> Settings:
    """The settings, with the command-line flags that were given (not None) on top."""
    from assistant.settings import get_settings

    base = get_settings()
    clean = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=clean) if clean else base


def emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human(data))


def on_terminal() -> bool:
    """Progress bars only for a person watching; logs and pipes get none."""
    return sys.stderr.isatty()


# A command makes most of its objects importing libraries: hundreds of thousands, all
# alive until it exits. The default first threshold (700 allocations) collects hundreds of
# times while they are imported; this one a few dozen, with the same collector.
GC_FIRST_THRESHOLD = 50_000
_process = {"owned": False}


def own_process() -> None:
    """This process runs one command and exits (not a test runner invoking many): collect
    less often while it starts, and let ``settle`` freeze what it loaded."""
    _process["owned"] = True
    _first, *rest = gc.get_threshold()
    gc.set_threshold(GC_FIRST_THRESHOLD, *rest)


def settle() -> None:
    """After a command's heavy imports and loading: what exists now (modules, classes, the
    model's tokenizer, the index) lives until exit, so later collections, the one at exit
    included, leave it out instead of walking it again (``gc.freeze``). Only in a process
    of its own: in one that goes on (tests) frozen garbage would never be freed."""
    if _process["owned"]:
        gc.freeze()
