"""``railyard-steps images promote``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from railyard_runtime import clouds, images
from railyard_runtime.cli.output import current, step
from railyard_runtime.errors import BadInput
from railyard_runtime.release import manifest as release_manifest
from railyard_runtime.release import plan

app = typer.Typer(help="Container images in ECR.", no_args_is_help=True)


@app.command("promote")
@step
def promote_command(
    ctx: typer.Context,
    repo: Annotated[str | None, typer.Option(help="ECR repository, e.g. backend/api.")] = None,
    from_tag: Annotated[str | None, typer.Option("--from", help="Existing tag: dev_123.")] = None,
    to_tag: Annotated[str | None, typer.Option("--to", help="New tag: stage_us_123.")] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="Release manifest: promote every image it lists.")
    ] = None,
    chunk: Annotated[
        int | None, typer.Option(min=0, help="Only the images of this chunk of --manifest.")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Artifacts per chunk (as `release plan` cut them).")
    ] = plan.DEFAULT_CHUNK_SIZE,
) -> None:
    """Add a tag to an image without pulling it; safe to run again."""
    single = (repo, from_tag, to_tag)
    if manifest is not None and any(single):
        raise BadInput("give either --manifest or --repo/--from/--to, not both")
    if manifest is not None:
        moves = plan.image_moves(release_manifest.load(manifest), chunk, chunk_size)
    elif all(single):
        moves = [(repo, from_tag, to_tag)]
    else:
        raise BadInput("--repo, --from and --to go together (or use --manifest FILE)")
    results = images.promote_all(clouds.aws_client("ecr"), moves)

    def show(console):
        table = Table("repository", "from", "to", "digest", "outcome")
        for p in results:
            table.add_row(p.repository, p.source_tag, p.target_tag, p.digest[:19], p.outcome)
        console.print(table)

    current(ctx).result(results, show)
