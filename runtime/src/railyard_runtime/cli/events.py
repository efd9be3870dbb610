"""``railyard-steps events publish`` (what the workflows run) and ``events card`` (what the
bridge made of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from railyard_runtime import clouds, events, git_host
from railyard_runtime.cli.output import current, step
from railyard_runtime.cli.secrets import read_token
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
    started: Annotated[
        str, typer.Option(help="When the task (or, for 'workflow', the run) started; RFC 3339.")
    ] = "",
    finished: Annotated[
        str, typer.Option(help="When the task finished, RFC 3339; empty: now.")
    ] = "",
    template: Annotated[str, typer.Option(help="WorkflowTemplate of the run.")] = "",
    commit: Annotated[str, typer.Option(help="Commit the run delivers (hex).")] = "",
    commit_time: Annotated[
        str,
        typer.Option(
            help="When that commit was made, ISO 8601 with its zone; empty: asked of the git "
            "host for the run's own event (with --github-token-file)."
        ),
    ] = "",
    repository: Annotated[str, typer.Option(help="owner/name of the commit.")] = "",
    rolled_back: Annotated[
        str, typer.Option(help="true when this event reports a successful rollback.")
    ] = "false",
    github_token_file: Annotated[
        Path | None, typer.Option(help="GitHub token for the commit-time lookup (optional).")
    ] = None,
    github_api_url: Annotated[
        str, typer.Option(envvar="GITHUB_API_URL", help="GitHub API.")
    ] = "https://api.github.com",
) -> None:
    """Send one event; the same workflow/task/phase again is deduplicated by SQS."""
    if not queue_url.endswith(".fifo"):
        raise BadInput(f"--queue-url {queue_url!r}: must be a FIFO queue (ends in .fifo)")
    if rolled_back not in ("true", "false"):
        raise BadInput(f"--rolled-back {rolled_back!r}: use true or false")
    fields = {
        "feature": feature,
        "env": env,
        "lane": lane,
        "phase": phase,
        "workflow_uid": workflow_uid,
        "task": task,
        "started": started or None,
        **({"time": finished} if finished else {}),
        "template": template or None,
        "commit": commit or None,
        "commit_time": commit_time or None,
        "repository": repository or None,
        "rolled_back": rolled_back == "true" and phase is events.Phase.SUCCEEDED,
    }
    try:
        event = events.PipelineEvent(**fields)
    except ValidationError as e:
        first = e.errors()[0]
        field = {"time": "finished"}.get(str(first["loc"][0]), str(first["loc"][0]))
        raise BadInput(f"--{field.replace('_', '-')}: {first['msg']}") from e
    event = _with_commit_time(event, github_token_file, github_api_url)
    message_id = events.publish(clouds.aws_client("sqs"), queue_url, event)
    result = {"messageId": message_id, "deduplicationId": event.deduplication_id}
    current(ctx).result(result, lambda console: console.print(f"sent {event.deduplication_id}"))


def _with_commit_time(
    event: events.PipelineEvent, token_file: Path | None, api_url: str
) -> events.PipelineEvent:
    """A run's own event started by hand has no commit time: ask the git host, if we may."""
    wanted = event.task == events.RUN_TASK and event.commit_time is None
    if not (wanted and event.commit and event.repository and token_file and token_file.exists()):
        return event
    token = read_token(token_file, "--github-token-file")
    found = git_host.commit_time(api_url, token, event.repository, event.commit)
    return event.model_copy(update={"commit_time": found}) if found else event


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
