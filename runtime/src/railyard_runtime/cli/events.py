"""``railyard-steps events publish``."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from railyard_runtime import clouds, events
from railyard_runtime.cli.output import current, step
from railyard_runtime.errors import BadInput

app = typer.Typer(help="Pipeline status events for the Kanban feed.", no_args_is_help=True)


@app.command("publish")
@step
def publish_command(
    ctx: typer.Context,
    feature: Annotated[str, typer.Option(help="Kanban card id of the feature.")],
    env: Annotated[str, typer.Option(help="Environment: dev, prod, ...")],
    lane: Annotated[events.Lane, typer.Option(help="Which lane moved.")],
    phase: Annotated[events.Phase, typer.Option(help="Argo phase: {{tasks.X.status}}.")],
    workflow_uid: Annotated[str, typer.Option(help="{{workflow.uid}}")],
    task: Annotated[str, typer.Option(help="Task name, or 'workflow' for onExit.")],
    queue_url: Annotated[
        str, typer.Option(envvar="RAILYARD_EVENTS_QUEUE_URL", help="SQS FIFO queue URL.")
    ],
) -> None:
    """Send one event; the same workflow/task/phase again is deduplicated by SQS."""
    if not queue_url.endswith(".fifo"):
        raise BadInput(f"--queue-url {queue_url!r}: must be a FIFO queue (ends in .fifo)")
    try:
        event = events.PipelineEvent(
            feature=feature, env=env, lane=lane, phase=phase, workflow_uid=workflow_uid, task=task
        )
    except ValidationError as e:
        first = e.errors()[0]
        raise BadInput(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from e
    message_id = events.publish(clouds.aws_client("sqs"), queue_url, event)
    result = {"messageId": message_id, "deduplicationId": event.deduplication_id}
    current(ctx).result(result, lambda console: console.print(f"sent {event.deduplication_id}"))
