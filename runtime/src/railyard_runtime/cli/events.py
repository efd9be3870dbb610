"""``railyard-steps events publish`` (what the workflows run) and ``events card`` (what the
bridge made of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from railyard_runtime import clouds, events
from railyard_runtime.cli.output import current, step
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.store import CardStore

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
        str, typer.Option(envvar=StepsEnv.EVENTS_QUEUE_URL, help="SQS FIFO queue URL.")
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


@app.command("card")
@step
def card_command(
    ctx: typer.Context,
    feature: Annotated[str, typer.Argument(help="Kanban card id of the feature.")],
    table: Annotated[
        str,
        typer.Option(
            envvar=StepsEnv.CARDS_TABLE, help="DynamoDB table (stack output kanbanCardsTable)."
        ),
    ],
    rules_file: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="Column rules file (kanbanColumnRulesFile); default: built in."
        ),
    ] = None,
) -> None:
    """What the bridge holds for a feature: each lane's state, its column, what the board shows."""
    rules = _rules(rules_file)
    card = CardStore(clouds.aws_client("dynamodb"), table).get(feature)
    if card.version == 0:
        raise StepError(f"no events for {feature!r} in {table} yet")
    result = {"card": card, "column": rules.column(card)}

    def human(console) -> None:
        lanes = Table("lane", "task", "phase", "time", "workflow", "env")
        for lane, state in sorted(card.lanes.items()):
            lanes.add_row(
                lane, state.task, state.phase, state.time.isoformat(), state.workflow_uid, state.env
            )
        console.print(lanes)
        console.print(
            f"column: {result['column']}  (the board shows: {card.board_column}, "
            f"{card.board_moves} moves, version {card.version})",
            highlight=False,
        )

    current(ctx).result(result, human)


def _rules(path: Path | None) -> cards.ColumnRules:
    try:
        return cards.load_rules(path) if path else cards.DEFAULT_RULES
    except ValueError as e:
        raise BadInput(f"--rules {e}") from e
