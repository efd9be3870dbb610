"""The Kanban bridge against moto's SQS FIFO + DynamoDB and a local board over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from conftest import LocalServer, client

from railyard_runtime.events import Lane, Phase, PipelineEvent
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.boards import GitHubProjectsBoard, JiraBoard, WebhookBoard
from railyard_runtime.kanban.bridge import Bridge, BridgeSettings
from railyard_runtime.kanban.store import CardStore

SECRET = "board-secret"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class BoardHandler(BaseHTTPRequestHandler):
    """A board: records every accepted move; fails the first ``failures`` calls with 500."""

    moves: ClassVar[list[tuple[str, str]]] = []
    requests: ClassVar[list[tuple[str, dict, dict]]] = []
    failures: ClassVar[int] = 0
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            BoardHandler.requests.append((self.path, dict(self.headers), json.loads(body)))
            if BoardHandler.failures > 0:
                BoardHandler.failures -= 1
                return self.answer(500)
            if self.path == "/card/move":
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if self.headers.get("X-Railyard-Signature-256") != f"sha256={expected}":
                    return self.answer(401)
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
    server = LocalServer(BoardHandler)
    yield server.url
    server.stop()


@pytest.fixture
def feed(aws):
    sqs, ddb = client("sqs", aws), client("dynamodb", aws)
    dlq = sqs.create_queue(QueueName="events-dlq.fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="events.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 50}),
        },
    )
    ddb.create_table(
        TableName="cards",
        KeySchema=[{"AttributeName": "feature", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "feature", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return sqs, ddb, queue["QueueUrl"], dlq["QueueUrl"]


def bridge_for(feed, board_url: str) -> Bridge:
    sqs, ddb, queue, dlq = feed
    settings = BridgeSettings(queue_url=queue, dlq_url=dlq, wait_seconds=1, retry_base_seconds=1)
    return Bridge(
        sqs, CardStore(ddb, "cards"), WebhookBoard(board_url, SECRET), cards.DEFAULT_RULES, settings
    )


def release_events(feature: str = "PROJ-1") -> list[PipelineEvent]:
    """A unified release as its exit hooks report it, in time order."""
    steps = [
        (Lane.RELEASE, "scan-images", Phase.SUCCEEDED),
        (Lane.BACKEND, "backend-apply", Phase.SUCCEEDED),
        (Lane.ANDROID, "android-build", Phase.RUNNING),
        (Lane.PWA, "pwa-publish", Phase.SUCCEEDED),
        (Lane.BACKEND, "backend-rollout", Phase.SUCCEEDED),
        (Lane.PWA, "pwa-verify", Phase.SUCCEEDED),
        (Lane.ANDROID, "android-build", Phase.SUCCEEDED),
        (Lane.ANDROID, "android-publish", Phase.SUCCEEDED),
        (Lane.RELEASE, "workflow", Phase.SUCCEEDED),
    ]
    return [
        PipelineEvent(
            feature=feature,
            env="dev",
            lane=lane,
            phase=phase,
            workflow_uid="uid-1",
            task=task,
            time=T0 + timedelta(seconds=10 * i),
        )
        for i, (lane, task, phase) in enumerate(steps)
    ]


def publish(sqs, queue: str, events: list[PipelineEvent], salt: str = "") -> None:
    for i, event in enumerate(events):
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=event.model_dump_json(by_alias=True),
            MessageGroupId=event.feature,
            # a redelivered duplicate is a new message for SQS: only the bridge can dedupe it
            MessageDeduplicationId=f"{event.deduplication_id}{salt}{i}",
        )


def drain(bridge: Bridge, polls: int = 40) -> None:
    empty = 0
    for _ in range(polls):
        if bridge.poll_once() == 0:
            empty += 1
            if empty >= 3:
                return
        else:
            empty = 0
    raise AssertionError("queue not drained")


def no_repeated_column(moves: list[tuple[str, str]]) -> bool:
    return all(a != b for a, b in itertools.pairwise(moves))


def test_in_order_release_moves_the_card_once_per_column_change(feed, board):
    bridge = bridge_for(feed, board)
    publish(feed[0], feed[2], release_events())
    drain(bridge)
    assert BoardHandler.moves == [
        ("PROJ-1", "In release"),
        ("PROJ-1", "Backend live"),
        ("PROJ-1", "PWA live"),
        ("PROJ-1", "Android released"),
    ]
    card = CardStore(feed[1], "cards").get("PROJ-1")
    assert card.board_column == "Android released"
    assert card.lanes[Lane.ANDROID].task == "android-publish"


def final_state(feed) -> dict:
    card = CardStore(feed[1], "cards").get("PROJ-1")
    return {
        "lanes": {k: (v.task, v.phase) for k, v in card.lanes.items()},
        "board": card.board_column,
    }


def test_duplicated_and_reordered_events_end_in_the_same_card(feed, board):
    events = release_events()
    shuffled = events + random.Random(7).sample(events, k=4)  # duplicates
    random.Random(3).shuffle(shuffled)
    publish(feed[0], feed[2], shuffled)
    bridge = bridge_for(feed, board)
    drain(bridge)
    assert final_state(feed) == {
        "lanes": {
            Lane.RELEASE: ("workflow", Phase.SUCCEEDED),
            Lane.BACKEND: ("backend-rollout", Phase.SUCCEEDED),
            Lane.PWA: ("pwa-verify", Phase.SUCCEEDED),
            Lane.ANDROID: ("android-publish", Phase.SUCCEEDED),
        },
        "board": "Android released",
    }
    assert BoardHandler.moves[-1] == ("PROJ-1", "Android released")
    assert no_repeated_column(BoardHandler.moves)
    counted = {o: bridge.metrics.events.labels(o)._value.get() for o in ("duplicate", "stale")}
    assert (
        counted["duplicate"] + counted["stale"] >= 4
    )  # 4 copies, plus events the shuffle made late


def test_a_consumer_killed_between_store_write_and_delete_changes_nothing_more(feed, board):
    events = release_events()
    publish(feed[0], feed[2], events[:5])
    crashing = bridge_for(feed, board)
    crashing._done = lambda message: (_ for _ in ()).throw(SystemExit("killed"))
    with pytest.raises(SystemExit):
        crashing.poll_once()  # applied and moved the first event, never deleted it
    moves_before = list(BoardHandler.moves)
    survivor = bridge_for(feed, board)
    drain(survivor)
    assert survivor.metrics.events.labels("duplicate")._value.get() >= 1
    assert BoardHandler.moves[: len(moves_before)] == moves_before
    assert no_repeated_column(BoardHandler.moves)
    assert final_state(feed)["board"] == "Backend live"


def test_a_board_returning_500s_ends_in_the_same_state_with_one_move_per_change(feed, board):
    BoardHandler.failures = 3
    publish(feed[0], feed[2], release_events())
    bridge = bridge_for(feed, board)
    drain(bridge, polls=80)
    assert BoardHandler.moves == [
        ("PROJ-1", "In release"),
        ("PROJ-1", "Backend live"),
        ("PROJ-1", "PWA live"),
        ("PROJ-1", "Android released"),
    ]
    assert bridge.metrics.board_errors.labels("unavailable")._value.get() == 3


def test_a_message_that_is_not_an_event_goes_to_the_dlq_with_the_reason(feed, board):
    sqs, _, queue, dlq = feed
    sqs.send_message(
        QueueUrl=queue,
        MessageBody='{"feature": "PROJ-1"}',
        MessageGroupId="x",
        MessageDeduplicationId="bad-1",
    )
    drain(bridge_for(feed, board))
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
    github.move("PVTI_item", "PWA live")
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
    jira.move("PROJ-1", "PWA live")
    path, headers, body = BoardHandler.requests[-1]
    assert path == "/rest/api/3/issue/PROJ-1/transitions"
    assert body == {"transition": {"id": "31"}}
    assert headers["Authorization"].startswith("Basic ")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_bridge_process_moves_cards_serves_metrics_and_stops_on_sigterm(feed, board, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    sqs, _, queue, dlq = feed
    (tmp_path / "board.json").write_text(json.dumps({"url": board}))
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
    }
    code = "from railyard_runtime.kanban.server import main; main()"
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        publish(sqs, queue, release_events())
        deadline = time.monotonic() + 30
        while len(BoardHandler.moves) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert BoardHandler.moves[-1] == ("PROJ-1", "Android released")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'railyard_bridge_events_total{outcome="applied"} 9.0' in metrics
        assert "railyard_bridge_board_moves_total 4.0" in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # finishes its long poll, then exits cleanly
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
