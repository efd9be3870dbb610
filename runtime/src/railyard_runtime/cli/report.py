"""``railyard-steps report dora|metrics|timeline``: what the pipeline's own events say.

Events come from a file (``--events``: one JSON event per line, as the queue carries them) or
from the table the bridge keeps (``--table``, stack output ``eventsTable``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from rich.table import Table

from railyard_runtime import clouds, history
from railyard_runtime.cli.output import current, step
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, StepError, Unreachable
from railyard_runtime.events import PipelineEvent, is_env_name
from railyard_runtime.files import FileRefused
from railyard_runtime.report import dora, metrics, timeline

app = typer.Typer(help="Delivery reports from pipeline events.", no_args_is_help=True)

# the store is read from a day before --since: a run ending in the window may have sent its
# lane events earlier (a release lasts at most four hours; an approval may wait longer)
LOOKBACK = timedelta(days=1)
_RELATIVE = re.compile(r"^(\d{1,4})([dh])$")
MAX_WINDOW = timedelta(days=400)

Events = Annotated[
    Path | None, typer.Option("--events", help="JSON-lines file of pipeline events.")
]
TableName = Annotated[
    str,
    typer.Option(
        "--table", envvar=StepsEnv.EVENTS_TABLE, help="The bridge's events table (eventsTable)."
    ),
]
Env = Annotated[str, typer.Option("--env", help="Environment: dev, prod, ...")]
Since = Annotated[
    str,
    typer.Option(help="Window start: ISO 8601 with a zone, or 30d / 12h before --until."),
]
Until = Annotated[str, typer.Option(help="Window end (not included), ISO 8601; default: now.")]


def parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{option} {value!r}: not a time; use e.g. 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise BadInput(f"{option} {value!r}: needs a time zone, e.g. 2026-11-01T00:00:00Z")
    return parsed


def window(since: str, until: str) -> tuple[datetime, datetime]:
    end = parse_time(until, "--until") if until else datetime.now(UTC)
    relative = _RELATIVE.fullmatch(since.strip())
    if relative:
        amount, unit = int(relative[1]), relative[2]
        start = end - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    else:
        start = parse_time(since, "--since")
    if start >= end:
        raise BadInput(f"--since {since!r}: must be before --until ({end.isoformat()})")
    if end - start > MAX_WINDOW:
        raise BadInput(f"--since {since!r}: the window is at most {MAX_WINDOW.days} days")
    return start, end


@contextmanager
def aws_call(what: str, option: str = "") -> Iterator[None]:
    """What the AWS SDK raises for ``what``, as an error that names it and exits 1, 2 or 3."""
    try:
        yield
    except ClientError as e:
        error = e.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        if code == "ResourceNotFoundException" and option:
            raise BadInput(
                f"{option}: {what}: not found ({message}); the stack output names it"
            ) from None
        raise StepError(f"{what}: {code}: {message}") from None
    except NoCredentialsError:
        raise BadInput(
            f"{what}: no AWS credentials (IRSA in the cluster, a profile outside)"
        ) from None
    except BotoCoreError as e:
        raise Unreachable(f"{what}: {e}") from None


def check_env(env: str) -> str:
    if not is_env_name(env):
        raise BadInput(f"--env {env[:80]!r}: an environment name, e.g. prod (printable, no spaces)")
    return env


def load(events: Path | None, table: str, env: str, since: datetime, until: datetime):
    check_env(env)
    if events is not None:
        try:
            return history.read_file(events)
        except history.HistoryError as e:
            raise BadInput(f"--events {e}") from None
    if not table:
        raise BadInput("--events or --table: say where the events are")
    store = history.EventHistory(clouds.aws_client("dynamodb"), table)
    try:
        with aws_call(f"reading the events of {env} from {table}", "--table"):
            return store.read(env, since - LOOKBACK, until)
    except history.HistoryError as e:
        raise BadInput(f"--table {e}") from None


def _lane(lane: str) -> str:
    try:
        return dora.check_lane(lane)
    except ValueError as e:
        raise BadInput(f"--{e}") from None


def _seconds(value: float | None) -> str:
    return "-" if value is None else str(timedelta(seconds=round(value)))


def _print(report: dora.Report):
    def human(console) -> None:
        table = Table(
            "key",
            "value",
            title=f"{report.env} · {report.lane} · "
            f"{report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC",
        )
        rate = report.change_failure_rate
        table.add_row("deployments", f"{report.deployments} ({report.deployments_per_day}/day)")
        table.add_row(
            "lead time p50 / p90",
            f"{_seconds(report.lead_time_p50)} / {_seconds(report.lead_time_p90)} "
            f"({report.lead_time_samples} commits)",
        )
        table.add_row(
            "change failure rate",
            "-" if rate is None else f"{rate:.1%} ({report.failed_changes} of {report.finished})",
        )
        table.add_row(
            "time to restore p50",
            f"{_seconds(report.time_to_restore_p50)} ({report.unrestored} not restored yet)",
        )
        table.add_row("duration p50 (start → end)", _seconds(report.duration_p50))
        table.add_row("runs going", str(report.in_progress))
        console.print(table)

    return human


@app.command("dora")
@step
def dora_command(
    ctx: typer.Context,
    env: Env,
    events: Events = None,
    table: TableName = "",
    since: Since = "30d",
    until: Until = "",
    lane: Annotated[str, typer.Option(help="all, backend, pwa or android.")] = dora.ALL_LANES,
) -> None:
    """The four keys for one environment (and lane) over a window; docs/metrics.md."""
    lane = _lane(lane)
    start, end = window(since, until)
    found = load(events, table, env, start, end)
    report = dora.report(found, env, start, end, lane)
    current(ctx).result(report.as_json(), _print(report))


@app.command("metrics")
@step
def metrics_command(
    ctx: typer.Context,
    env: Env,
    events: Events = None,
    table: TableName = "",
    since: Since = "30d",
    until: Until = "",
    dry_run: Annotated[bool, typer.Option(help="Compute, print, put nothing.")] = False,
) -> None:
    """Every lane's keys, put as CloudWatch metrics (the release dashboard draws them)."""
    start, end = window(since, until)
    found = load(events, table, env, start, end)
    folded = dora.runs(found, env)
    reports = [dora.report_runs(folded, env, start, end, lane) for lane in dora.LANES]
    data = metrics.metric_data(reports, end)
    put = 0
    if not dry_run:
        with aws_call(f"putting {len(data)} values to CloudWatch {metrics.NAMESPACE}"):
            put = metrics.put(clouds.aws_client("cloudwatch"), data)
    result = {"namespace": metrics.NAMESPACE, "put": put, "reports": [r.as_json() for r in reports]}
    current(ctx).result(
        result,
        lambda console: console.print(
            f"{put} values put to {metrics.NAMESPACE} for {env} ({len(reports)} lanes)"
        ),
    )


@app.command("timeline")
@step
def timeline_command(
    ctx: typer.Context,
    workflow_uid: Annotated[str, typer.Argument(help="The run's {{workflow.uid}}.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the SVG.")],
    env: Env,
    events: Events = None,
    table: TableName = "",
    since: Since = "7d",
    until: Until = "",
) -> None:
    """One run's lanes and tasks over time, as an SVG Gantt chart."""
    if out.suffix.lower() != ".svg":
        raise BadInput(f"--out {str(out)!r}: the timeline is drawn as SVG; name it *.svg")
    start, end = window(since, until)
    found: list[PipelineEvent] = load(events, table, env, start, end)
    own = [e for e in found if e.workflow_uid == workflow_uid and e.env == env]
    try:
        bars = timeline.bars(own, workflow_uid)
        run = timeline.run_summary(own, workflow_uid)
        svg = timeline.render_svg(bars, f"{own[0].feature} · {env} · {workflow_uid}", run)
    except ValueError as e:
        raise BadInput(f"{workflow_uid}: {e}") from None
    try:
        write_new(out, svg.encode())
    except FileRefused as e:
        raise BadInput(f"--out {str(out)!r}: {e.problem}") from None
    current(ctx).result(
        {"out": str(out), "bars": len(bars)},
        lambda console: console.print(f"{len(bars)} tasks drawn to {out}"),
    )


def write_new(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename: a reader never sees half a picture, and a
    symlink at ``path`` is replaced, not followed."""
    if path.is_dir():
        raise FileRefused("is a directory")
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.unlink(missing_ok=True)
        with open(temporary, "xb") as f:
            f.write(data)
        temporary.replace(path)
    except OSError as e:
        temporary.unlink(missing_ok=True)
        raise FileRefused(f"cannot write it ({e.strerror})") from None
