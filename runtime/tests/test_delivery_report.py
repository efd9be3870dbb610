"""The events history (moto DynamoDB), the bridge keeping it, and ``railyard-steps report``."""

from __future__ import annotations

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from conftest import LocalServer, QuietHandler, client
from test_kanban_bridge import BoardHandler, bridge_for, drain, publish
from test_kanban_bridge import board as board  # the fixture
from typer.testing import CliRunner

from railyard_runtime.cli import app
from railyard_runtime.events import Phase, PipelineEvent
from railyard_runtime.history import EventHistory, HistoryError, read_file
from railyard_runtime.kanban import cards

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SHA = "9f2c4e1b7a3d5c8e0f1a2b3c4d5e6f7a8b9c0d1e"


def run(*args: str):
    result = CliRunner().invoke(app, ["--json", *args])
    return result, json.loads(result.stdout) if result.stdout.strip() else None


def a_release(uid: str, start: datetime, phase: str = "Succeeded") -> list[PipelineEvent]:
    """A unified release's events whose run delivers SHA, committed an hour before it started."""
    events = cards.happy_path("PROJ-1", "prod", uid, start, timedelta(minutes=1))
    change = {
        "template": "unified-release",
        "commit": SHA,
        "commit_time": start - timedelta(hours=1),
        "repository": "acme/app",
    }
    out = [e.model_copy(update=change) for e in events]
    last = out[-1]
    assert last.task == "workflow"
    out[-1] = last.model_copy(update={"phase": Phase(phase), "started": start})
    return out


def lines(events: list[PipelineEvent]) -> str:
    return "".join(e.model_dump_json(by_alias=True, exclude_none=True) + "\n" for e in events)


# --- the history table ------------------------------------------------------------------


def test_the_history_keeps_each_event_once_and_reads_a_window(events_table, feed_clients):
    store = EventHistory(feed_clients[1], events_table)
    first, second = a_release("r1", T0), a_release("r2", T0 + timedelta(days=1))
    for event in [*first, *first[:3], *second]:  # a redelivery writes the same items again
        store.record(event)
    other = first[0].model_copy(update={"env": "dev"})
    store.record(other)

    assert store.read("prod", T0, T0 + timedelta(days=2)) == sorted(
        [*first, *second], key=lambda e: (e.time, e.deduplication_id)
    )
    # until is not included: r2 starts exactly there
    assert store.read("prod", T0, T0 + timedelta(days=1)) == first
    assert store.read("dev", T0, T0 + timedelta(days=2)) == [other]
    item = feed_clients[1].scan(TableName=events_table)["Items"][0]
    expires = datetime.fromtimestamp(int(item["expires"]["N"]), UTC)
    assert expires - PipelineEvent.model_validate_json(item["event"]["S"]).time == timedelta(
        days=400
    )


def test_an_item_that_is_not_an_event_is_named(events_table, feed_clients):
    feed_clients[1].put_item(
        TableName=events_table,
        Item={
            "env": {"S": "prod"},
            "at": {"S": "2026-11-23T02:00:00.000000Z#x"},
            "event": {"S": "{"},
        },
    )
    with pytest.raises(HistoryError, match=r"item '2026-11-23T02:00:00.000000Z#x': not a"):
        EventHistory(feed_clients[1], events_table).read("prod", T0, T0 + timedelta(days=1))


def test_the_bridge_keeps_every_event_and_counts_its_errors(
    feed,
    board,
    events_table,
    monkeypatch,
):
    bridge = bridge_for(feed, board)
    bridge.history = EventHistory(feed[1], events_table)
    bridge.cloudwatch = client("cloudwatch", os.environ["AWS_ENDPOINT_URL"])
    events = a_release("r1", T0)
    publish(feed[0], feed[2], events)
    publish(feed[0], feed[2], events[:2], salt="again")  # redelivered copies
    feed[0].send_message(
        QueueUrl=feed[2], MessageBody="{}", MessageGroupId="x", MessageDeduplicationId="poison"
    )
    drain(bridge)

    kept = EventHistory(feed[1], events_table).read("prod", T0, T0 + timedelta(days=1))
    assert kept == events
    errors = bridge.cloudwatch.get_metric_statistics(
        Namespace="Railyard/Delivery",
        MetricName="BridgeErrors",
        Dimensions=[{"Name": "Kind", "Value": "poison"}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [p["Sum"] for p in errors] == [1.0]


def test_a_history_that_cannot_be_written_leaves_the_message_for_later(feed, board):
    bridge = bridge_for(feed, board)
    bridge.history = EventHistory(feed[1], "no-such-table")
    publish(feed[0], feed[2], a_release("r1", T0)[:1])
    bridge.poll_once()
    assert BoardHandler.moves == []  # nothing applied before it is kept
    assert (
        bridge.sqs.get_queue_attributes(
            QueueUrl=feed[2], AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        == "1"
    )


# --- report dora / metrics / timeline -------------------------------------------------


def test_report_dora_from_a_file(tmp_path):
    # r1 succeeds (lead: committed 1 h before its start, ended 8 min in -> 4,080 s),
    # r2 fails a day later, r3 restores it the day after
    history = [
        *a_release("r1", T0),
        *a_release("r2", T0 + timedelta(days=1), "Failed"),
        *a_release("r3", T0 + timedelta(days=2)),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text(lines(history))
    result, got = run(
        "report", "dora", "--env", "prod", "--events", str(path),
        "--since", "2026-11-20T00:00:00Z", "--until", "2026-11-30T00:00:00+00:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert got["deployments"] == 2 and got["deploymentsPerDay"] == 0.2
    # r3 delivers the same commit again: one lead time
    assert got["leadTimeSeconds"] == {"p50": 4080.0, "p90": 4080.0, "samples": 1}
    assert got["changeFailureRate"] == round(1 / 3, 4)
    assert got["timeToRestoreSeconds"] == {
        "p50": 2 * 86400 - 86400.0,
        "samples": 1,
        "unrestored": 0,
    }


def test_report_metrics_puts_every_lane(events_table, feed_clients):
    store = EventHistory(feed_clients[1], events_table)
    for event in a_release("r1", T0):
        store.record(event)
    result, got = run(
        "report", "metrics", "--env", "prod", "--table", events_table, "--since", "7d",
        "--until", "2026-11-24T00:00:00Z",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["lane"] for r in got["reports"]] == ["all", "backend", "pwa", "android"]
    cloudwatch = client("cloudwatch", os.environ["AWS_ENDPOINT_URL"])
    listed = cloudwatch.list_metrics(Namespace="Railyard/Delivery", MetricName="Deployments")
    lanes = sorted(
        next(d["Value"] for d in m["Dimensions"] if d["Name"] == "Lane") for m in listed["Metrics"]
    )
    assert lanes == ["all", "android", "backend", "pwa"]
    assert got["put"] == len(cloudwatch.list_metrics(Namespace="Railyard/Delivery")["Metrics"])


def test_report_timeline_draws_one_run(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(lines(a_release("r1", T0) + a_release("r2", T0 + timedelta(hours=2))))
    out = tmp_path / "r1.svg"
    elsewhere = tmp_path / "elsewhere.svg"
    elsewhere.write_text("keep me")
    out.symlink_to(elsewhere)  # replaced, not followed

    result, got = run(
        "report", "timeline", "r1", "--out", str(out), "--env", "prod", "--events", str(path),
        "--since", "2026-11-01T00:00:00Z", "--until", "2026-12-01T00:00:00Z",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert got["bars"] == 7  # every task of the happy path
    assert not out.is_symlink() and elsewhere.read_text() == "keep me"
    svg = ET.parse(out).getroot()
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == 7 and all(not t.startswith("workflow") for t in titles)


def test_report_timeline_of_an_unknown_run_is_refused(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(lines(a_release("r1", T0)))
    result, got = run(
        "report", "timeline", "nope", "--out", str(tmp_path / "x.svg"), "--env", "prod",
        "--events", str(path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert got["error"] == "nope: no events for workflow 'nope'"
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"feature": "x"\n', "events.jsonl:1: (line): Invalid JSON"),
        (b"\xff\xfe\n", "events.jsonl:1: not UTF-8"),
        (b"\n\n" + b'{"a": ' * 70_000 + b"\n", "events.jsonl:3: longer than 65,536 bytes"),
        (b'{"feature":"x","env":"prod","lane":"ios"}\n', "events.jsonl:1: lane: Input should be"),
        (
            b'{"feature":"x","env":"prod","lane":"pwa","phase":"Succeeded","workflowUid":"u",'
            b'"task":"t","time":"2026-11-01T00:00:00"}\n',
            "events.jsonl:1: time: Input should have timezone info",
        ),
    ],
)
def test_a_file_that_is_not_events_names_its_line(tmp_path, content, message):
    path = tmp_path / "events.jsonl"
    path.write_bytes(content)
    result, got = run("report", "dora", "--env", "prod", "--events", str(path))
    assert result.exit_code == 2
    assert message in got["error"]


def test_a_fifo_or_a_directory_is_not_read(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, problem in ((fifo, "is a FIFO"), (tmp_path, "is a directory")):
        result, got = run("report", "dora", "--env", "prod", "--events", str(path))
        assert result.exit_code == 2 and problem in got["error"]


def test_read_file_refuses_more_events_than_it_holds(tmp_path, monkeypatch):
    import railyard_runtime.history as history

    monkeypatch.setattr(history, "MAX_EVENTS", 3)
    path = tmp_path / "events.jsonl"
    path.write_text(lines(a_release("r1", T0)))
    with pytest.raises(HistoryError, match=r"events.jsonl:4: more than 3 events"):
        read_file(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2026-11-01T00:00:00"), "--since '2026-11-01T00:00:00': needs a time zone"),
        (("--until", "yesterday"), "--until 'yesterday': not a time"),
        (("--since", "2026-12-01T00:00:00Z", "--until", "2026-11-01T00:00:00Z"), "before --until"),
        (("--since", "900d"), "the window is at most 400 days"),
        (("--lane", "ios"), "--lane 'ios': use all or one of backend, pwa, android"),
        ((), "--events or --table: say where the events are"),
    ],
)
def test_a_window_that_cannot_be_read_is_refused(args, message, monkeypatch):
    monkeypatch.delenv("RAILYARD_EVENTS_TABLE", raising=False)
    result, got = run("report", "dora", "--env", "prod", *args)
    assert result.exit_code == 2
    assert message in got["error"]


# --- events publish: what the report needs --------------------------------------------


class GitHubCommits(QuietHandler):
    def do_GET(self):
        if self.path == f"/repos/acme/app/commits/{SHA}":
            if self.headers.get("Authorization") != "Bearer gh-token":
                return self.reply(401, b"{}")
            body = {"sha": SHA, "commit": {"committer": {"date": "2026-11-22T23:30:00Z"}}}
            return self.reply(200, json.dumps(body).encode())
        return self.reply(404, b"{}")


@pytest.fixture
def queue(aws, monkeypatch):
    sqs = client("sqs", aws)
    url = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    monkeypatch.setenv("RAILYARD_EVENTS_QUEUE_URL", url)
    return sqs, url


def sent(queue) -> dict:
    sqs, url = queue
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    return json.loads(messages[0]["Body"])


RUN_END = [
    "events", "publish", "--feature", "PROJ-1", "--env", "prod", "--lane", "release",
    "--phase", "Succeeded", "--workflow-uid", "u-1", "--task", "workflow",
    "--template", "unified-release", "--commit", SHA.upper(), "--repository", "acme/app",
    "--started", "2026-11-23T02:00:00Z",
]  # fmt: skip


def test_a_run_started_by_hand_gets_its_commit_time_from_the_git_host(queue, tmp_path):
    github = LocalServer(GitHubCommits)
    try:
        token = tmp_path / "token"
        token.write_text("gh-token\n")
        result, _ = run(
            *RUN_END, "--commit-time", "", "--github-token-file", str(token),
            "--github-api-url", github.url,
        )  # fmt: skip
    finally:
        github.stop()
    assert result.exit_code == 0, result.output
    body = sent(queue)
    assert body["commitTime"] == "2026-11-22T23:30:00Z"
    assert (body["commit"], body["template"], body["started"]) == (
        SHA,
        "unified-release",
        "2026-11-23T02:00:00Z",
    )
    assert body["rolledBack"] is False


def test_a_git_host_that_does_not_answer_costs_only_the_commit_time(queue, tmp_path):
    token = tmp_path / "token"
    token.write_text("wrong-token")
    github = LocalServer(GitHubCommits)
    try:
        result, _ = run(*RUN_END, "--github-token-file", str(token), "--github-api-url", github.url)
    finally:
        github.stop()
    assert result.exit_code == 0, result.output
    assert "commitTime" not in sent(queue)


def test_a_push_gives_the_commit_time_and_no_lookup_is_made(queue):
    result, _ = run(*RUN_END, "--commit-time", "2026-11-23T01:15:00+01:00")
    assert result.exit_code == 0, result.output
    assert sent(queue)["commitTime"] == "2026-11-23T01:15:00+01:00"


def test_only_a_successful_rollback_is_marked(queue):
    hook = [
        "events", "publish", "--feature", "PROJ-1", "--env", "prod", "--lane", "backend",
        "--workflow-uid", "u-1", "--task", "backend-rollback", "--rolled-back", "true",
        "--finished", "2026-11-23T02:10:00Z",
    ]  # fmt: skip
    assert run(*hook, "--phase", "Failed")[0].exit_code == 0
    assert run(*hook, "--phase", "Succeeded")[0].exit_code == 0
    sqs, url = queue
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert [(b["phase"], b["rolledBack"], b["time"]) for b in bodies] == [
        ("Failed", False, "2026-11-23T02:10:00Z"),
        ("Succeeded", True, "2026-11-23T02:10:00Z"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--commit-time", "2026-11-23T01:15:00"), "--commit-time: Input should have timezone"),
        (("--rolled-back", "yes"), "--rolled-back 'yes': use true or false"),
        (("--commit", "main branch"), "--commit: String should match pattern"),
        (("--commit", "../../x"), "--commit: Value error, has an empty, . or .. segment"),
        (("--repository", "../etc"), "--repository: Value error, has an empty, . or .. segment"),
        (("--started", "soon"), "--started: Input should be a valid datetime"),
    ],
)
def test_bad_run_fields_exit_2(queue, args, message):
    result, got = run(*RUN_END, *args)
    assert result.exit_code == 2
    assert message in got["error"]


def test_a_table_that_does_not_exist_is_named(aws):
    result, got = run("report", "dora", "--env", "prod", "--table", "no-such-table")
    assert result.exit_code == 2
    assert got["error"].startswith("--table: reading the events of prod from no-such-table")


@pytest.mark.parametrize("env", ["pro d", "", "x" * 65, "prod\n"])
def test_an_environment_that_cannot_be_one_is_refused(tmp_path, env):
    path = tmp_path / "events.jsonl"
    path.write_text(lines(a_release("r1", T0)))
    result, got = run("report", "dora", "--env", env, "--events", str(path))
    assert result.exit_code == 2
    assert got["error"].startswith("--env ")


def test_a_bad_finish_time_names_its_option(queue):
    result, got = run(*RUN_END, "--finished", "2026-11-23T02:10:00")
    assert result.exit_code == 2
    assert got["error"].startswith("--finished: Input should have timezone info")


class Trickle(QuietHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        for _ in range(200):  # a byte every 50 ms: 10 s in all, never a whole answer
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)


def test_a_git_host_that_trickles_is_given_up_on_in_its_time():
    from railyard_runtime import git_host

    server = LocalServer(Trickle)
    try:
        began = time.monotonic()
        found = git_host.commit_time(server.url, "t", "acme/app", SHA, timeout=1)
        took = time.monotonic() - began
    finally:
        server.stop()
    assert found is None
    assert took < 3


def test_the_bridge_process_keeps_the_history_it_is_given(
    feed,
    board,
    events_table,
    tmp_path,
    monkeypatch,
):
    from test_kanban_bridge import start_bridge, stop, wait_until

    store = EventHistory(feed[1], events_table)
    monkeypatch.setenv("RAILYARD_EVENTS_TABLE", events_table)  # as the stack sets them
    monkeypatch.setenv("RAILYARD_CLOUDWATCH_METRICS", "on")
    process, _ = start_bridge(feed, board, tmp_path)
    try:
        events = a_release("r1", T0)
        publish(feed[0], feed[2], events)
        window = (T0, T0 + timedelta(days=1))
        assert wait_until(lambda: len(store.read("prod", *window)) == len(events))
        assert store.read("prod", *window) == events
    finally:
        stop(process)


def test_a_bridge_told_a_metrics_mode_it_does_not_know_stops_with_exit_2(tmp_path):
    from test_hostile_bridge import bridge_command

    (tmp_path / "board.json").write_text('{"url": "http://127.0.0.1:9/board"}')
    (tmp_path / "secret").write_text("s")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAILYARD_", "AWS_"))}
    env |= {
        "RAILYARD_EVENTS_QUEUE_URL": "http://127.0.0.1:9/q.fifo",
        "RAILYARD_EVENTS_DLQ_URL": "http://127.0.0.1:9/dlq.fifo",
        "RAILYARD_CARDS_TABLE": "cards",
        "RAILYARD_BOARD": "webhook",
        "RAILYARD_BOARD_CONFIG": str(tmp_path / "board.json"),
        "RAILYARD_BOARD_SECRET_FILE": str(tmp_path / "secret"),
        "RAILYARD_CLOUDWATCH_METRICS": "yes please",
    }
    done = subprocess.run(
        bridge_command(), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "RAILYARD_CLOUDWATCH_METRICS: 'yes please' is not on or off" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_train_started_at_a_branch_names_it_as_its_commit(queue):
    args = list(RUN_END)
    args[args.index("--commit") + 1] = "release/2026.11"
    args[args.index("--template") + 1] = "release-train"
    result, _ = run(*args)
    assert result.exit_code == 0, result.output
    body = sent(queue)
    assert (body["commit"], body["template"]) == ("release/2026.11", "release-train")
