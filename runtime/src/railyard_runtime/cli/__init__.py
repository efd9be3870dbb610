"""``railyard-steps``: the commands the release workflows run."""

from __future__ import annotations

from typing import Annotated

import typer

from railyard_runtime import __version__
from railyard_runtime.cli import (
    android,
    deploy,
    events,
    images,
    pwa,
    release,
    report,
    report_drift,  # noqa: F401  (registers report drift)
    scan,
)
from railyard_runtime.cli.output import Output

app = typer.Typer(
    help="railyard pipeline steps: PWA, Android, images, releases, deploys, scans, events, "
    "reports.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # never print tokens held in local variables
)
app.add_typer(pwa.app, name="pwa")
app.add_typer(android.app, name="android")
app.add_typer(images.app, name="images")
app.add_typer(events.app, name="events")
app.add_typer(release.app, name="release")
app.add_typer(deploy.app, name="deploy")
app.add_typer(scan.app, name="scan")
app.add_typer(report.app, name="report")


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (for machines).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    ctx.obj = Output(json_output)


def main() -> None:
    app()
