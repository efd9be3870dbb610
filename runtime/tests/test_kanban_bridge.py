"""The Kanban bridge against moto's SQS FIFO + DynamoDB and a local board over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from conftest import LocalServer

from railyard_runtime.events import Lane, Phase, PipelineEvent
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.boards import GitHubProjectsBoard, JiraBoard, WebhookBoard
from railyard_runtime.kanban.bridge import Bridge, BridgeSettings
from railyard_runtime.kanban.store import CardStore

SECRET = "board-secret"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class BoardHandler(BaseHTTPRequestHandler):
    """A board: records every accepted move; fails the first ``failures`` calls with 500.

    ``moves`` holds each move once per ``X-Railyard-Move-Id`` (what a receiver that honours
    the id shows); ``deliveries`` counts every accepted POST.
    """

    moves: ClassVar[list[tuple[str, str]]] = []
    move_ids: ClassVar[set[str]] = set()
    deliveries: ClassVar[int] = 0
    requests: ClassVar[list[tuple[str, dict, dict]]] = []
    failures: ClassVar[int] = 0
    delay: ClassVar[float] = 0.0
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(BoardHandler.delay)
        with self.lock:
            BoardHandler.requests.append((self.path, dict(self.headers), json.loads(body)))
            if BoardHandler.failures > 0:
                BoardHandler.failures -= 1
                return self.answer(500)
            if self.path == "/card/move":
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if self.headers.get("X-Railyard-Signature-256") != f"sha256={expected}":
                    return self.answer(401)
                BoardHandler.deliveries += 1
                move_id = self.headers["X-Railyard-Move-Id"]
                if move_id not in BoardHandler.move_ids:
                    BoardHandler.move_ids.add(move_id)
                    move = json.loads(body)
                    BoardHandler.moves.append((move["card"], move["column"]))
            self.answer(200 if self.path != "/rest/api/3/issue/PROJ-1/transitions" else 204)

    def answer(self, status: int) -> None:
        body = b'{"data": {}}' if status == 200 else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def board():
    BoardHandler.moves, BoardHandler.requests, BoardHandler.failures = [], [], 0
    BoardHandler.move_ids, BoardHandler.deliveries, BoardHandler.delay = set(), 0, 0.0
    server = LocalServer(BoardHandler)
    yield server.url
    server.stop()


def bridge_for(feed, board_url: str) -> Bridge:
    sqs, ddb, queue, dlq = feed
    settings = BridgeSettings(queue_url=queue, dlq_url=dlq, wait_seconds=1, retry_base_seconds=1)
    return Bridge(
        sqs, CardStore(ddb, "cards"), WebhookBoard(board_url, SECRET), cards.DEFAULT_RULES, settings
    )


def release_events(feature: str = "PROJ-1") -> list[PipelineEvent]:
    """A unified release as its exit hooks report it, in time order."""
    return cards.happy_path(feature, "dev", "uid-1", T0, timedelta(seconds=10))


def publish(sqs, queue: str, events: list[PipelineEvent], salt: str = "") -> None:
    """Send ``events`` in order, ten a call (SQS keeps a batch's order within each group)."""
    entries = [
        {
            "Id": str(i),
            "MessageBody": event.model_dump_json(by_alias=True),
            "MessageGroupId": event.feature,
            # a redelivered duplicate is a new message for SQS: only the bridge can dedupe it
            "MessageDeduplicationId": f"{event.deduplication_id}{salt}{i}",
        }
        for i, event in enumerate(events)
    ]
    for start in range(0, len(entries), 10):
        answer = sqs.send_message_batch(QueueUrl=queue, Entries=entries[start : start + 10])
        assert not answer.get("Failed"), answer["Failed"]


def in_queue(bridge: Bridge) -> int:
    """Messages still on the queue, visible or not (moto counts exactly)."""
    attributes = bridge.sqs.get_queue_attributes(
        QueueUrl=bridge.settings.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def drain(bridge: Bridge, polls: int = 40) -> None:
    """Poll until every message is deleted (bounded: ``polls`` long polls of 1 s)."""
    for _ in range(polls):
        bridge.poll_once()
        if in_queue(bridge) == 0:
            return
    raise AssertionError(f"queue not drained: {in_queue(bridge)} left")


IN_ORDER_MOVES = [
    ("PROJ-1", "In release"),
    ("PROJ-1", "Backend live"),
    ("PROJ-1", "PWA live"),
    ("PROJ-1", "Android released"),
]
FINAL_STATE = {
    "lanes": {
        Lane.RELEASE: ("workflow", Phase.SUCCEEDED),
        Lane.BACKEND: ("backend-rollout", Phase.SUCCEEDED),
        Lane.PWA: ("pwa-verify", Phase.SUCCEEDED),
        Lane.ANDROID: ("android-publish", Phase.SUCCEEDED),
    },
    "board": "Android released",
}


def final_state(feed) -> dict:
    card = CardStore(feed[1], "cards").get("PROJ-1")
    return {
        "lanes": {k: (v.task, v.phase) for k, v in card.lanes.items()},
        "board": card.board_column,
    }


def column_changes(events: list[PipelineEvent]) -> list[tuple[str, str]]:
    """The oracle: the columns pure logic passes through for this delivery order."""
    return [("PROJ-1", c) for c in cards.columns_through("PROJ-1", events, cards.DEFAULT_RULES)]


class Killed(BaseException):
    """The consumer dies here (not an Exception: nothing in the bridge catches it)."""


def kill_after(target, method: str, nth: int) -> None:
    """Let ``target.method`` run ``nth`` times, then kill the consumer right after it."""
    real, calls = getattr(target, method), itertools.count(1)

    def dying(*args, **kwargs):
        result = real(*args, **kwargs)
        if next(calls) == nth:
            raise Killed(f"{method} #{nth}")
        return result

    setattr(target, method, dying)


def kill_before_delete(bridge: Bridge) -> None:
    bridge._delete = lambda messages: (_ for _ in ()).throw(Killed("before delete"))


def duplicated(events):
    """Every event twice, the copy two places later (a redelivery SQS cannot dedupe)."""
    out = list(events)
    for i, event in enumerate(events):
        out.insert(min(len(out), 2 * i + 3), event)
    return out


def reordered(events):
    shuffled = events + random.Random(7).sample(events, k=1)  # ~10% duplicates
    random.Random(3).shuffle(shuffled)
    return shuffled


# name: (what is published, a failure injected into the first consumer, board moves made
# when it died)
SCENARIOS = {
    "in order": (list, None, None),
    "duplicated": (duplicated, None, None),
    "reordered": (reordered, None, None),
    "board returns 500s": (list, "500s", None),
    # puts: apply #1, record #2, apply #3..#6 (#6: backend-rollout, which moves the card)
    "killed after the card write, before the board move": (
        list,
        lambda b: kill_after(b.store, "put", 6),
        1,
    ),
    "killed after the board move, before recording it": (
        list,
        lambda b: kill_after(b.board, "move", 2),
        2,
    ),
    "killed after store and board agree, before the delete": (list, kill_before_delete, 4),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_failure_ends_in_the_same_card_with_one_move_per_column_change(feed, board, scenario):
    order, failure, moves_when_killed = SCENARIOS[scenario]
    published = order(release_events())
    publish(feed[0], feed[2], published)
    first = bridge_for(feed, board)
    if failure == "500s":
        BoardHandler.failures = 3
        # retried at once: the backoff hiding a message is the board-down test's subject
        first.settings.retry_base_seconds = 0
        drain(first)
    elif failure:
        failure(first)
        with pytest.raises(Killed):
            drain(first)
        assert len(BoardHandler.moves) == moves_when_killed  # it died where the name says
        drain(bridge_for(feed, board))
    else:
        drain(first)

    assert final_state(feed) == FINAL_STATE
    assert BoardHandler.moves == column_changes(published)
    if order is list:
        assert BoardHandler.moves == IN_ORDER_MOVES
    if failure == "500s":
        assert first.metrics.board_errors.labels("unavailable")._value.get() == 3


def test_duplicates_and_stale_events_are_counted_not_applied(feed, board):
    published = reordered(release_events())
    publish(feed[0], feed[2], published)
    bridge = bridge_for(feed, board)
    drain(bridge)
    counted = {
        o: bridge.metrics.events.labels(o)._value.get() for o in ("applied", "duplicate", "stale")
    }
    assert counted["duplicate"] >= 1
    assert sum(counted.values()) == len(published)
    assert counted["applied"] < len(published)


def test_a_move_repeated_after_a_kill_carries_the_same_move_id(feed, board):
    publish(feed[0], feed[2], release_events()[:5])
    dying = bridge_for(feed, board)
    kill_after(dying.board, "move", 2)
    with pytest.raises(Killed):
        drain(dying)
    drain(bridge_for(feed, board))
    ids = [h["X-Railyard-Move-Id"] for path, h, _ in BoardHandler.requests if path == "/card/move"]
    assert len(ids) == 3 and ids[1] == ids[2]  # the repeat, which the board ignored
    assert BoardHandler.moves == IN_ORDER_MOVES[:2]


def test_a_board_that_is_down_costs_one_call_per_batch_not_one_per_message(feed, board):
    BoardHandler.failures = 1000
    publish(feed[0], feed[2], release_events())
    bridge = bridge_for(feed, board)
    assert bridge.poll_once() == 9
    assert len(BoardHandler.requests) == 1
    assert bridge.metrics.events.labels("applied")._value.get() == 1  # the rest wait unread
    assert bridge.metrics.board_errors.labels("unavailable")._value.get() == 1
    sqs, _, queue, _ = feed
    hidden = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
    assert hidden == "9"  # all of them back later, none deleted


def test_a_slow_board_makes_the_batch_hand_back_what_it_cannot_start_in_time(feed, board):
    """Half the visibility timeout into a batch, the rest goes back to the queue at once, so
    no message turns visible to another consumer while this one still works on it."""
    BoardHandler.delay = 0.4  # each move; the queue's visibility timeout is 1 s
    publish(feed[0], feed[2], release_events())
    sqs, ddb, queue, dlq = feed
    settings = BridgeSettings(queue_url=queue, dlq_url=dlq, wait_seconds=1, visibility_seconds=1)
    bridge = Bridge(
        sqs, CardStore(ddb, "cards"), WebhookBoard(board, SECRET), cards.DEFAULT_RULES, settings
    )
    assert bridge.poll_once() == 9
    handled = sum(bridge.metrics.events.labels(o)._value.get() for o in ("applied", "duplicate"))
    assert 1 <= handled < 9
    visible = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert int(visible) == 9 - handled  # handed back, not waiting out a timeout
    drain(bridge)
    assert final_state(feed) == FINAL_STATE
    assert BoardHandler.moves == IN_ORDER_MOVES


def test_two_consumers_racing_on_one_card_apply_an_event_once(feed):
    """Both read the card, both decide to apply; the conditional write lets one win and the
    other re-read, see the event, and call it a duplicate."""
    store = CardStore(feed[1], "cards")
    both_read = threading.Barrier(2, timeout=10)

    class RacingStore(CardStore):
        def get(self, feature):
            card = super().get(feature)
            if card.version == 0:
                both_read.wait()
            return card

    event = release_events()[0]
    consumers = [
        Bridge(None, RacingStore(feed[1], "cards"), None, cards.DEFAULT_RULES, None)
        for _ in range(2)
    ]
    outcomes = []
    threads = [
        threading.Thread(target=lambda b=b: outcomes.append(b.apply(event)[1])) for b in consumers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(outcomes) == [cards.Outcome.APPLIED, cards.Outcome.DUPLICATE]
    assert store.get("PROJ-1").version == 1


def test_a_message_that_is_not_an_event_goes_to_the_dlq_with_the_reason(feed, board):
    sqs, _, queue, dlq = feed
    sqs.send_message(
        QueueUrl=queue,
        MessageBody='{"feature": "PROJ-1"}',
        MessageGroupId="x",
        MessageDeduplicationId="bad-1",
    )
    bridge = bridge_for(feed, board)
    drain(bridge)
    assert bridge.metrics.events.labels("poison")._value.get() == 1
    dead = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert dead[0]["Body"] == '{"feature": "PROJ-1"}'
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"].startswith("not a pipeline event")
    assert BoardHandler.moves == []


def test_a_write_on_a_stale_version_is_refused(feed):
    store = CardStore(feed[1], "cards")
    event = release_events()[0]
    first, _ = cards.apply(store.get("PROJ-1"), event)
    assert store.put(first, 0) is True
    assert store.put(first, 0) is False  # a second consumer with the same read loses
    again, outcome = cards.apply(store.get("PROJ-1"), event)
    assert outcome is cards.Outcome.DUPLICATE and again.version == first.version


def test_github_projects_and_jira_requests_have_the_documented_shape(board):
    github = GitHubProjectsBoard(
        "gh-token", "PVT_1", "PVTSSF_1", {"PWA live": "opt-3"}, api_url=f"{board}/graphql"
    )
    github.move("PVTI_item", "PWA live", "PVTI_item/2/PWA live")
    path, headers, body = BoardHandler.requests[-1]
    assert path == "/graphql"
    assert headers["Authorization"] == "Bearer gh-token"
    assert "updateProjectV2ItemFieldValue" in body["query"]
    assert "singleSelectOptionId: $option" in body["query"]
    assert body["variables"] == {
        "project": "PVT_1",
        "item": "PVTI_item",
        "field": "PVTSSF_1",
        "option": "opt-3",
    }
    jira = JiraBoard(board, "bot@example.com", "jira-token", {"PWA live": "31"})
    jira.move("PROJ-1", "PWA live", "PROJ-1/2/PWA live")
    path, headers, body = BoardHandler.requests[-1]
    assert path == "/rest/api/3/issue/PROJ-1/transitions"
    assert body == {"transition": {"id": "31"}}
    assert headers["Authorization"].startswith("Basic ")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bridge(feed, board_url: str, tmp_path) -> tuple[subprocess.Popen, int]:
    """A real ``railyard-bridge`` process on the feed, as the Deployment runs it."""
    _, _, queue, dlq = feed
    (tmp_path / "board.json").write_text(json.dumps({"url": board_url}))
    (tmp_path / "secret").write_text(SECRET)
    port = free_port()
    env = {
        **os.environ,
        "RAILYARD_EVENTS_QUEUE_URL": queue,
        "RAILYARD_EVENTS_DLQ_URL": dlq,
        "RAILYARD_CARDS_TABLE": "cards",
        "RAILYARD_BOARD": "webhook",
        "RAILYARD_BOARD_CONFIG": str(tmp_path / "board.json"),
        "RAILYARD_BOARD_SECRET_FILE": str(tmp_path / "secret"),
        "RAILYARD_BRIDGE_PORT": str(port),
        # short long polls: SIGTERM waits for the one in hand
        "RAILYARD_EVENTS_WAIT_SECONDS": "1",
    }
    code = "from railyard_runtime.kanban.server import main; main()"
    return subprocess.Popen([sys.executable, "-c", code], env=env), port


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def wait_until(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def test_the_bridge_process_moves_cards_serves_metrics_and_stops_on_sigterm(feed, board, tmp_path):
    import httpx

    process, port = start_bridge(feed, board, tmp_path)
    try:
        publish(feed[0], feed[2], release_events())
        assert wait_until(lambda: len(BoardHandler.moves) >= 4)
        assert BoardHandler.moves[-1] == ("PROJ-1", "Android released")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'railyard_bridge_events_total{outcome="applied"} 9.0' in metrics
        assert "railyard_bridge_board_moves_total 4.0" in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        # finishes its long poll (1 s, not SQS's 20), then exits cleanly
        assert process.wait(timeout=10) == 0
    finally:
        stop(process)


def test_a_bridge_process_killed_mid_stream_is_finished_by_the_next_one(feed, board, tmp_path):
    """SIGKILL wherever it happens to be; the next process ends every card the same way, with
    one move per column change on a board that honours move ids."""
    features = [f"PROJ-{i}" for i in range(1, 5)]  # four groups: batches mix them
    publish(feed[0], feed[2], [e for f in features for e in release_events(f)])
    first, _ = start_bridge(feed, board, tmp_path)
    try:
        assert wait_until(lambda: len(BoardHandler.moves) >= 3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    moves_when_killed = len(BoardHandler.moves)
    second, _ = start_bridge(feed, board, tmp_path)
    try:
        store = CardStore(feed[1], "cards")
        every_move = len(features) * len(IN_ORDER_MOVES)  # the board first: no read of the table
        assert wait_until(
            lambda: (
                len(BoardHandler.moves) >= every_move
                and all(store.get(f).board_column == "Android released" for f in features)
            ),
            60,
        ), BoardHandler.moves
    finally:
        stop(second)
    assert moves_when_killed < len(features) * len(IN_ORDER_MOVES)  # it died mid-stream
    for f in features:
        assert [m for m in BoardHandler.moves if m[0] == f] == [(f, c) for _, c in IN_ORDER_MOVES]
        card = store.get(f)
        assert {lane: s.task for lane, s in card.lanes.items()} == {
            lane: task for lane, (task, _) in FINAL_STATE["lanes"].items()
        }


class ScriptedBoard(BaseHTTPRequestHandler):
    """Answers every POST with ``answer`` = (status, headers, body)."""

    answer: ClassVar[tuple[int, dict, bytes]] = (200, {}, b"{}")

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status, headers, body = ScriptedBoard.answer
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


GITHUB_ANSWERS = {
    "secondary rate limit (403 + retry-after)": ((403, {"Retry-After": "60"}, b"{}"), "retry"),
    "primary rate limit (403, none left)": (
        (403, {"X-RateLimit-Remaining": "0"}, b"{}"),
        "retry",
    ),
    "GraphQL RATE_LIMITED": (
        (200, {}, b'{"errors": [{"type": "RATE_LIMITED", "message": "slow down"}]}'),
        "retry",
    ),
    "bad credentials (401)": ((401, {}, b'{"message": "Bad credentials"}'), "refused"),
    "forbidden without rate limit headers": ((403, {}, b"{}"), "refused"),
    "GraphQL NOT_FOUND": (
        (200, {}, b'{"errors": [{"type": "NOT_FOUND", "message": "no item"}]}'),
        "refused",
    ),
    "moved": ((200, {}, b'{"data": {"updateProjectV2ItemFieldValue": {}}}'), "ok"),
}


@pytest.mark.parametrize("case", GITHUB_ANSWERS)
def test_github_answers_are_told_apart_into_retry_refused_and_ok(case):
    from railyard_runtime.kanban.boards import BoardRejected, BoardUnavailable

    ScriptedBoard.answer, expected = GITHUB_ANSWERS[case]
    server = LocalServer(ScriptedBoard)
    try:
        github = GitHubProjectsBoard(
            "t", "PVT_1", "PVTSSF_1", {"PWA live": "o"}, api_url=f"{server.url}/graphql"
        )
        outcome = "ok"
        try:
            github.move("PVTI_1", "PWA live", "PVTI_1/0/PWA live")
        except BoardUnavailable:
            outcome = "retry"
        except BoardRejected:
            outcome = "refused"
        assert outcome == expected
    finally:
        server.stop()


def test_a_board_refusing_a_move_dead_letters_the_event_and_keeps_the_card(feed, board):
    sqs, ddb, queue, dlq = feed
    publish(sqs, queue, release_events()[:1])
    settings = BridgeSettings(queue_url=queue, dlq_url=dlq, wait_seconds=1)
    wrong_secret = WebhookBoard(board, "not-the-secret")  # the board answers 401
    refused = Bridge(sqs, CardStore(ddb, "cards"), wrong_secret, cards.DEFAULT_RULES, settings)
    drain(refused)
    assert refused.metrics.board_errors.labels("rejected")._value.get() == 1
    dead = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"].startswith("board refused")
    card = CardStore(ddb, "cards").get("PROJ-1")
    assert card.lanes[Lane.RELEASE].task == "scan-images"  # applied; the board is behind
    assert card.board_column is None
    # redriven once the secret is fixed: a duplicate for the card, a move for the board
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=dead[0]["Body"],
        MessageGroupId="PROJ-1",
        MessageDeduplicationId="redrive-1",
    )
    drain(bridge_for(feed, board))
    assert BoardHandler.moves == IN_ORDER_MOVES[:1]


def test_the_bridge_process_names_every_bad_setting_and_exits_2(tmp_path):
    (tmp_path / "rules.json").write_text(
        json.dumps({"columns": ["Done"], "rules": [{"column": "Done", "lane": "ios"}]})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAILYARD_")} | {
        "RAILYARD_BOARD": "trello",
        "RAILYARD_BOARD_CONFIG": str(tmp_path / "missing.json"),
        "RAILYARD_BOARD_SECRET_FILE": str(tmp_path / "no-secret"),
        "RAILYARD_COLUMN_RULES": str(tmp_path / "rules.json"),
        "RAILYARD_BRIDGE_PORT": "metrics",
        "RAILYARD_EVENTS_WAIT_SECONDS": "30",
    }
    code = "from railyard_runtime.kanban.server import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    for expected in (
        "RAILYARD_EVENTS_QUEUE_URL: not set",
        "RAILYARD_EVENTS_DLQ_URL: not set",
        "RAILYARD_CARDS_TABLE: not set",
        f"RAILYARD_BOARD_CONFIG: {tmp_path / 'missing.json'} cannot read it (No such file",
        "RAILYARD_BOARD_SECRET_FILE:",
        "RAILYARD_BOARD: 'trello'; use webhook, github-projects or jira",
        f"RAILYARD_COLUMN_RULES: {tmp_path / 'rules.json'}: rules.0.lane: Input should be",
        "; rules.0.phases: Field required",
        "RAILYARD_BRIDGE_PORT: 'metrics' is not a whole number from 1 to 65535",
        "RAILYARD_EVENTS_WAIT_SECONDS: '30' is not a whole number from 1 to 20",
    ):
        assert expected in done.stderr, expected


def test_a_card_written_by_another_consumer_mid_batch_is_read_again_not_overwritten(feed, board):
    """The bridge reuses the card it wrote for the next message of the batch; a write by
    someone else in between makes that guess fail the conditional write, never win it."""
    events = release_events()
    publish(feed[0], feed[2], [events[0], events[3]])  # release lane, then PWA lane
    bridge = bridge_for(feed, board)
    other = Bridge(None, CardStore(feed[1], "cards"), None, cards.DEFAULT_RULES, None)
    real_handle, handled = bridge.handle, []

    def handle_then_interleave(message):
        result = real_handle(message)
        if not handled:  # between the two messages, another consumer applies the backend
            other.apply(events[1])
        handled.append(message)
        return result

    bridge.handle = handle_then_interleave
    assert bridge.poll_once() == 2  # one batch: the second message starts from the guess
    drain(bridge)
    lanes = CardStore(feed[1], "cards").get("PROJ-1").lanes
    assert {lane: s.task for lane, s in lanes.items()} == {
        Lane.RELEASE: "scan-images",
        Lane.BACKEND: "backend-apply",
        Lane.PWA: "pwa-publish",
    }


def test_events_card_shows_what_the_bridge_made_of_a_feature(feed, board, tmp_path):
    from typer.testing import CliRunner

    from railyard_runtime.cli import app

    publish(feed[0], feed[2], release_events()[:5])
    drain(bridge_for(feed, board))
    shown = CliRunner().invoke(app, ["--json", "events", "card", "PROJ-1", "--table", "cards"])
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.stdout)
    assert answer["column"] == "Backend live"
    assert answer["card"]["boardColumn"] == "Backend live"
    assert answer["card"]["lanes"]["backend"]["task"] == "backend-rollout"
    # the same card under other rules: the example board's column for it
    rules = tmp_path / "columns.yaml"
    rules.write_text("columns: [Going]\nrules: [{column: Going, phases: [Succeeded]}]\n")
    other = CliRunner().invoke(
        app, ["--json", "events", "card", "PROJ-1", "--table", "cards", "--rules", str(rules)]
    )
    assert json.loads(other.stdout)["column"] == "Going"
    human = CliRunner().invoke(app, ["events", "card", "PROJ-1", "--table", "cards"])
    assert "backend-rollout" in human.stdout
    assert "column: Backend live  (the board shows: Backend live, 2 moves" in human.stdout
    missing = CliRunner().invoke(app, ["events", "card", "PROJ-9", "--table", "cards"])
    assert missing.exit_code == 1
    assert "no events for 'PROJ-9' in cards yet" in missing.output
    rules.write_text("columns: [Going]\nrules: [{column: Gone, phases: [Succeeded]}]\n")
    bad = CliRunner().invoke(
        app, ["events", "card", "PROJ-1", "--table", "cards", "--rules", str(rules)]
    )
    assert bad.exit_code == 2
    assert "rules name columns not in `columns`" in bad.output
