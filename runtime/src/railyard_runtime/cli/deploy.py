"""``railyard-steps deploy lambda|s3|apigw``: the release train's job types."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from railyard_runtime import clouds, deploy
from railyard_runtime.cli.output import current, step

app = typer.Typer(
    help="Release-train jobs: deploy one repository's artifact.", no_args_is_help=True
)

Source = Annotated[Path, typer.Option(help="Path in the checked-out repository.")]
Checkout = Annotated[
    Path | None,
    typer.Option(
        help="The repository's checkout: SOURCE must resolve inside it (a link out is refused)."
    ),
]


def _report(ctx: typer.Context, outcome: deploy.Outcome) -> None:
    verb = "deployed" if outcome.changed else "unchanged"
    current(ctx).result(
        {"target": outcome.target, "changed": outcome.changed, "detail": outcome.detail},
        lambda console: console.print(f"{verb} {outcome.target}: {outcome.detail}"),
    )


@app.command("lambda")
@step
def lambda_command(
    ctx: typer.Context,
    function_name: Annotated[str, typer.Option(help="Function to update.")],
    source: Source = Path("."),
    checkout: Checkout = None,
) -> None:
    """Zip SOURCE deterministically and update the function's code if it differs."""
    client = clouds.aws_client("lambda")
    _report(ctx, deploy.deploy_lambda(client, function_name, source, checkout=checkout))


@app.command("s3")
@step
def s3_command(
    ctx: typer.Context,
    bucket: Annotated[str, typer.Option(help="Target bucket.")],
    source: Source = Path("dist"),
    prefix: Annotated[str, typer.Option(help="Key prefix, ending in '/'.")] = "",
    checkout: Checkout = None,
) -> None:
    """Upload SOURCE's files under PREFIX, skipping files the bucket holds with the same hash.

    Reads only regular files inside SOURCE: a symlink out of it, or a FIFO or device in it,
    refuses the upload before anything is sent (exit 2).
    """
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    client = clouds.aws_client("s3")
    _report(ctx, deploy.deploy_s3(client, bucket, prefix, source, checkout=checkout))


@app.command("apigw")
@step
def apigw_command(
    ctx: typer.Context,
    rest_api_id: Annotated[str, typer.Option(help="REST API id.")],
    stage: Annotated[str, typer.Option(help="Stage to deploy to.")],
    source: Source = Path("swagger.yaml"),
    description: Annotated[str, typer.Option(help="Deployment description.")] = "",
    checkout: Checkout = None,
) -> None:
    """Overwrite the REST API from SOURCE (Swagger/OpenAPI) and deploy it to STAGE."""
    client = clouds.aws_client("apigateway")
    outcome = deploy.deploy_apigw(client, rest_api_id, stage, source, description, checkout)
    _report(ctx, outcome)


@app.command("rollout")
@step
def rollout_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The Rollout (rollout/<name> of the backend).")],
    namespace: Annotated[str, typer.Option(help="Its namespace.")],
    timeout: Annotated[
        float, typer.Option(min=1, max=86400, help="Seconds to wait for Healthy.")
    ] = 900,
    interval: Annotated[float, typer.Option(min=0.1, max=60, help="Seconds between reads.")] = 5,
) -> None:
    """Wait until the Rollout is Healthy (exit 0) or Degraded (exit 1, its message printed)."""
    from railyard_runtime import rollout

    message = rollout.wait(
        rollout.ClusterApi.from_environment(), namespace, name, timeout, interval
    )
    current(ctx).result(
        {"rollout": name, "namespace": namespace, "phase": rollout.HEALTHY, "message": message},
        lambda console: console.print(f"rollout/{name} is Healthy: {message}"),
    )
