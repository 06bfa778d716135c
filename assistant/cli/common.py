"""What every command module shares: errors as one line, settings with flag overrides, output."""

from __future__ import annotations

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
