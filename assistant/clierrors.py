"""The click group class shared by `assistant` and its `finetune` group: errors as one line."""

from __future__ import annotations

import sys
from typing import Any

import click

from assistant.errors import AssistantError, BadInputError


class ErrorReportingGroup(click.Group):
    """Turns our errors into a one-line message and exit status 1 (2 for bad input)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssistantError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2 if isinstance(exc, BadInputError) else 1)
