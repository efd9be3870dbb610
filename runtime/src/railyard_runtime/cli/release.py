"""``railyard-steps release validate|plan``: the release train's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from railyard_runtime.cli.output import current, step
from railyard_runtime.errors import BadInput
from railyard_runtime.release import manifest as release_manifest
from railyard_runtime.release import plan

app = typer.Typer(help="Release manifests (releases/*.yaml).", no_args_is_help=True)

ChunkSize = Annotated[int, typer.Option(min=1, max=500, help="Artifacts per child Workflow.")]
MAX_PRINTED = 200  # problems over all files: the output stays readable, and bounded


@app.command("validate")
@step
def validate_command(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Manifest files to check.")],
) -> None:
    """Check manifests against the schema; every problem is printed as FILE:LINE: field: fix."""
    problems: list[str] = []
    hidden = 0
    summary = []
    for path in files:
        try:
            manifest = release_manifest.load(path)
        except BadInput as e:
            if isinstance(e, release_manifest.ManifestError):
                found = [p.render(e.path) for p in e.problems]
                hidden += e.more
            else:
                found = [e.message]
            room = max(0, MAX_PRINTED - len(problems))
            problems += found[:room]
            hidden += len(found) - len(found[:room])
            continue
        entries = plan.entries(manifest)
        summary.append(
            {
                "file": str(path),
                "environment": manifest.environment.name,
                "products": len(manifest.products),
                "artifacts": len(entries),
            }
        )
    if hidden:
        where = str(files[0]) if len(files) == 1 else f"{len(files)} files"
        problems.append(release_manifest.more_line(where, hidden))
    if problems:
        raise BadInput("\n".join(problems))

    def show(console):
        table = Table("file", "environment", "products", "artifacts")
        for row in summary:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)

    current(ctx).result(summary, show)


@app.command("plan")
@step
def plan_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The release manifest.")],
    out_dir: Annotated[
        Path, typer.Option(help="Write the plan here as JSON files (workflow outputs).")
    ],
    chunk: Annotated[
        int | None,
        typer.Option(min=0, help="Write this chunk's jobs (lambda/s3/apigw/image.json)."),
    ] = None,
    chunk_size: ChunkSize = plan.DEFAULT_CHUNK_SIZE,
) -> None:
    """Without --chunk: chunks.json lists the chunk numbers. With it: that chunk's jobs."""
    manifest = release_manifest.load(file)
    count = plan.chunk_count(manifest, chunk_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    if chunk is None:
        written = {"chunks": list(range(count))}
    else:
        if chunk >= count:
            raise BadInput(f"--chunk {chunk}: the manifest has chunks 0..{count - 1}")
        written = plan.jobs_by_kind(manifest, chunk, chunk_size)
    for name, value in written.items():
        (out_dir / f"{name}.json").write_text(json.dumps(value, separators=(",", ":")))
    result = {"chunks": count, "artifacts": len(plan.entries(manifest))} | (
        {"chunk": chunk, "jobs": {k: len(v) for k, v in written.items()}}
        if chunk is not None
        else {}
    )
    current(ctx).result(result, lambda console: console.print(result))
