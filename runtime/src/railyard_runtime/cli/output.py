"""What every command prints: a human view on the terminal, or one JSON document (--json).

Progress and messages go to stderr, results to stdout, so ``--json`` output pipes cleanly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from railyard_runtime.errors import StepError

err = Console(stderr=True)


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


class Output:
    def __init__(self, as_json: bool):
        self.as_json = as_json

    def result(self, value: Any, human: Callable[[Console], None]) -> None:
        if self.as_json:
            typer.echo(json.dumps(_json(value), indent=2, sort_keys=True))
        else:
            human(Console())

    def note(self, message: str) -> None:
        err.print(message, highlight=False, markup=False)

    def progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=self.as_json,
        )


def step(fn: Callable[..., None]) -> Callable[..., None]:
    """Turn a ``StepError`` into its message and exit code, in both output modes.

    The command takes ``ctx: typer.Context`` (the root's object is the ``Output``).
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except StepError as e:
            if current(kwargs["ctx"]).as_json:
                typer.echo(json.dumps({"error": e.message, "exitCode": int(e.exit_code)}))
            else:
                # soft_wrap: FILE:LINE messages stay one per line whatever the width
                # the message is text, not markup: `[/x]` in a manifest key must print as is
                err.print(
                    f"[bold red]error:[/] {escape(e.message)}", highlight=False, soft_wrap=True
                )
            raise typer.Exit(int(e.exit_code)) from None

    return run


def current(ctx: typer.Context) -> Output:
    """The output mode the root command (``--json``) chose."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, Output) else Output(False)
