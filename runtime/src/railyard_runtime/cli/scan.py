"""``railyard-steps scan images|code``: the gates a release passes before anything deploys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from railyard_runtime import clouds
from railyard_runtime.cli.output import current, step
from railyard_runtime.cli.secrets import read_token
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.scans import code, images

app = typer.Typer(
    help="Blocking scans: image vulnerabilities, static analysis.", no_args_is_help=True
)


@app.command("images")
@step
def images_command(
    ctx: typer.Context,
    image: Annotated[list[str], typer.Option(help="<ecr repository>:<tag>; repeat for more.")],
    block: Annotated[str, typer.Option(help="Severities that block.")] = "CRITICAL,HIGH",
    deadline: Annotated[float, typer.Option(min=1, help="Seconds to wait for scans.")] = 900,
) -> None:
    """Fail (exit 1) when an image has findings at a blocked severity, or no finished scan."""
    out = current(ctx)
    levels = images.parse_block(block)
    verdicts = images.scan_images(
        clouds.aws_client("ecr"), image, levels, deadline, on_wait=out.note
    )

    def show(console):
        table = Table("image", "scan", *images.SEVERITIES[:4], "blocking")
        for v in verdicts:
            counts = [str(v.counts.get(s, 0)) for s in images.SEVERITIES[:4]]
            table.add_row(
                v.image, v.status, *counts, "scan failed" if v.blocking < 0 else str(v.blocking)
            )
        console.print(table)

    bad = [v for v in verdicts if v.blocking]
    if bad:  # one error document; the counts are in the message
        raise StepError(
            f"blocked by {'/'.join(levels)} findings or no finished scan: "
            + "; ".join(f"{v.image} ({v.status}, {v.counts})" for v in bad)
        )
    out.result([v.__dict__ for v in verdicts], show)


@app.command("code")
@step
def code_command(
    ctx: typer.Context,
    repository: Annotated[str, typer.Option(help="GitHub <owner>/<name>.")],
    commit: Annotated[str, typer.Option(help="The commit being released.")],
    token_file: Annotated[
        Path, typer.Option(envvar=StepsEnv.GITHUB_TOKEN_FILE, help="File with a GitHub token.")
    ],
    block: Annotated[
        str, typer.Option(help="Alert severities that block.")
    ] = "critical,high,error",
    api_url: Annotated[str, typer.Option(envvar="GITHUB_API_URL", help="GitHub API.")] = (
        "https://api.github.com"
    ),
) -> None:
    """Fail (exit 1) unless the commit was analysed and its ref has no open blocking alert."""
    if not token_file.exists():  # the workflow mounts the Secret as optional
        raise BadInput(
            f"--token-file {str(token_file)!r}: no GitHub token; set the stack's secret "
            "(pulumi config set --secret githubToken <token>) and run pulumi up"
        )
    token = read_token(token_file, "--token-file")
    verdict = code.check(api_url, token, repository, commit, code.parse_block(block))
    if verdict.blocking:
        raise StepError(
            f"{repository}: open code-scanning alerts {verdict.open_alerts} on {verdict.ref}"
        )
    current(ctx).result(
        verdict.__dict__,
        lambda console: console.print(
            f"{repository}@{commit[:12]} on {verdict.ref} ({', '.join(verdict.tools)}): "
            f"open blocking alerts: none at {'/'.join(code.parse_block(block))}"
        ),
    )
