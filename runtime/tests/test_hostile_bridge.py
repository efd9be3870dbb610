"""Hostile inputs to the Kanban bridge, against moto's SQS FIFO + DynamoDB and local boards:
zone-less event times, messages that cannot be applied, redirecting, trickling and
path-injected boards, and broken settings files for the real ``railyard-bridge`` process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import LocalServer
from test_kanban_bridge import drain, in_queue, publish

from railyard_runtime.kanban import cards
from railyard_runtime.kanban.boards import (
    BoardRejected,
    BoardUnavailable,
    GitHubProjectsBoard,
    JiraBoard,
    WebhookBoard,
)
from railyard_runtime.kanban.bridge import Bridge, BridgeSettings
from railyard_runtime.kanban.store import CardStore

SECRET = "board-secret"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
COLUMNS = cards.DEFAULT_RULES.columns
IN_ORDER = ["In release", "Backend live", "PWA live", "Android released"]
DEADLINE = 0.6
"""A board call's deadline here: a few of a trickling board's bytes, each in time."""


class RecordingBoard(BaseHTTPRequestHandler):
    """Records every request (method, path, headers) to any path; answers ``status`` (with
    ``location`` for a redirect) and a small JSON body on 200."""

    requests: ClassVar[list[tuple[str, str, dict]]] = []
    status: ClassVar[int] = 200
    location: ClassVar[str] = ""

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 1 << 20))
        RecordingBoard.requests.append((self.command, self.path, dict(self.headers)))
        body = b'{"data": {}}' if RecordingBoard.status == 200 else b""
        self.send_response(RecordingBoard.status)
        if RecordingBoard.location:
            self.send_header("Location", RecordingBoard.location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, *args):
        pass


@pytest.fixture
def board():
    RecordingBoard.requests, RecordingBoard.status, RecordingBoard.location = [], 200, ""
    server = LocalServer(RecordingBoard)
    yield server.url
    server.stop()


def bridge_with(feed, board) -> Bridge:
    sqs, ddb, queue, dlq = feed
    settings = BridgeSettings(queue_url=queue, dlq_url=dlq, wait_seconds=1, retry_base_seconds=1)
    return Bridge(sqs, CardStore(ddb, "cards"), board, cards.DEFAULT_RULES, settings)


def send(sqs, queue: str, body: str, group: str, dedup: str) -> None:
    sqs.send_message(
        QueueUrl=queue, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
    )


def dead_letters(feed) -> list[tuple[str, str]]:
    """(body, reason) of every message in the DLQ."""
    sqs, _, _, dlq = feed
    found = []
    for _ in range(5):
        answer = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        for m in messages:
            found.append((m["Body"], m["MessageAttributes"]["reason"]["StringValue"]))
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
    return found


def moves(bridge: Bridge) -> float:
    return bridge.metrics.moves._value.get()


# --- event times ------------------------------------------------------------------------


def test_a_zone_less_time_goes_to_the_dlq_with_the_reason_and_its_lane_goes_on(feed, board):
    events = cards.happy_path("PROJ-1", "dev", "uid-1", T0, timedelta(seconds=10))
    zone_less = json.loads(events[1].model_dump_json(by_alias=True))
    zone_less |= {"time": "2026-11-23T02:00:05", "workflowUid": "uid-0"}  # the backend lane
    publish(feed[0], feed[2], events[:1])
    send(feed[0], feed[2], json.dumps(zone_less), "PROJ-1", "zone-less")
    publish(feed[0], feed[2], events[1:], salt="after")
    bridge = bridge_with(feed, WebhookBoard(board, SECRET))

    drain(bridge)

    ((body, reason),) = dead_letters(feed)
    assert json.loads(body) == zone_less
    assert reason == "not a pipeline event: time: Input should have timezone info"
    card = CardStore(feed[1], "cards").get("PROJ-1")
    assert card.lanes["backend"].task == "backend-rollout"  # the lane's later events applied
    assert card.board_column == "Android released"
    assert [m[1] for m in RecordingBoard.requests] == ["/card/move"] * 4


def test_a_card_stored_with_a_zone_less_lane_time_takes_that_lanes_next_events(feed, board):
    """What an earlier bridge stored from a zone-less event is read as UTC, not a lane that
    refuses every later event."""
    stored = {
        "feature": "PROJ-1",
        "lanes": {
            "backend": {
                "phase": "Running",
                "time": "2026-11-23T02:00:05",
                "workflowUid": "uid-0",
                "task": "backend-apply",
                "eventId": "uid-0/backend-apply/Running",
                "env": "dev",
            }
        },
        "version": 1,
        "boardColumn": None,
        "boardMoves": 0,
    }
    feed[1].put_item(
        TableName="cards",
        Item={"feature": {"S": "PROJ-1"}, "version": {"N": "1"}, "card": {"S": json.dumps(stored)}},
    )
    publish(feed[0], feed[2], cards.happy_path("PROJ-1", "dev", "uid-1", T0, timedelta(seconds=10)))
    bridge = bridge_with(feed, WebhookBoard(board, SECRET))

    drain(bridge)

    assert dead_letters(feed) == []
    card = CardStore(feed[1], "cards").get("PROJ-1")
    assert card.lanes["backend"].task == "backend-rollout"
    assert card.lanes["backend"].time == T0 + timedelta(seconds=40)
    assert card.board_column == "Android released"


def test_a_message_that_cannot_be_applied_goes_to_the_dlq_and_the_rest_goes_on(feed, board):
    """Not the event's fault this time: the stored card of PROJ-2 is unreadable. Its events
    are dead-lettered with the reason; PROJ-1's, in the same batches, are applied."""
    feed[1].put_item(
        TableName="cards",
        Item={"feature": {"S": "PROJ-2"}, "version": {"N": "3"}, "card": {"S": "{not json"}},
    )
    mixed = [
        e
        for pair in zip(
            cards.happy_path("PROJ-1", "dev", "uid-1", T0, timedelta(seconds=10)),
            cards.happy_path("PROJ-2", "dev", "uid-2", T0, timedelta(seconds=10)),
            strict=True,
        )
        for e in pair
    ]
    publish(feed[0], feed[2], mixed)
    bridge = bridge_with(feed, WebhookBoard(board, SECRET))

    drain(bridge)

    dead = dead_letters(feed)
    assert len(dead) == 9
    assert all(json.loads(body)["feature"] == "PROJ-2" for body, _ in dead)
    assert all(reason.startswith("cannot apply to card PROJ-2: ") for _, reason in dead)
    assert "Invalid JSON" in dead[0][1]
    assert CardStore(feed[1], "cards").get("PROJ-1").board_column == "Android released"


# --- redirects ---------------------------------------------------------------------------


def boards_at(url: str) -> dict[str, tuple[object, str]]:
    """Each board pointed at ``url`` (``DEADLINE``) and a card id it takes."""
    every = {c: f"id-{i}" for i, c in enumerate(COLUMNS)}
    return {
        "webhook": (WebhookBoard(url, SECRET, deadline=DEADLINE), "PROJ-1"),
        "github-projects": (
            GitHubProjectsBoard(
                "gh-token", "PVT_1", "PVTSSF_1", every, f"{url}/graphql", deadline=DEADLINE
            ),
            "PVTI_item1",
        ),
        "jira": (
            JiraBoard(url, "bot@example.com", "jira-token", every, deadline=DEADLINE),
            "PROJ-1",
        ),
    }


@pytest.mark.parametrize("kind", ["webhook", "github-projects", "jira"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_board_answering_a_redirect_has_not_moved_and_is_not_followed(feed, board, kind, status):
    RecordingBoard.status, RecordingBoard.location = status, "/elsewhere"
    target, card_id = boards_at(board)[kind]
    events = cards.happy_path(card_id, "dev", "uid-1", T0, timedelta(seconds=10))
    publish(feed[0], feed[2], events[:1])
    bridge = bridge_with(feed, target)

    drain(bridge)

    assert moves(bridge) == 0
    assert bridge.metrics.board_errors.labels("rejected")._value.get() == 1
    assert CardStore(feed[1], "cards").get(card_id).board_column is None
    ((_, reason),) = dead_letters(feed)
    assert reason.startswith("board refused: ")
    assert f"HTTP {status} redirect to '/elsewhere', not followed" in reason
    assert len(RecordingBoard.requests) == 1  # nothing sent to /elsewhere
    assert RecordingBoard.requests[0][1] != "/elsewhere"


# --- a board that trickles ---------------------------------------------------------------


class TricklingBoard:
    """A raw socket server: reads a request, sends ``at_once`` bytes of its answer, then one
    byte every ``every`` seconds (the board that keeps every read just inside a timeout)."""

    ANSWER = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        b'{"data": {}}'
    )

    def __init__(self, at_once: int, every: float = DEADLINE / 3):
        self.at_once, self.every = at_once, every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            fields = dict(
                line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
            )
            while len(body) < int(fields.get(b"content-length", b"0")):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.requests.append(head)
            conn.sendall(self.ANSWER[: self.at_once])
            for i in range(self.at_once, len(self.ANSWER)):
                if self.stopping.wait(self.every):
                    return
                conn.sendall(self.ANSWER[i : i + 1])
        except OSError:
            return  # the bridge hung up: what the test wants

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.fixture
def trickling():
    started: list[TricklingBoard] = []

    def start(at_once: int) -> TricklingBoard:
        started.append(TricklingBoard(at_once))
        return started[-1]

    yield start
    for server in started:
        server.close()


HEADERS_END = TricklingBoard.ANSWER.index(b"\r\n\r\n") + 4


@pytest.mark.parametrize("kind", ["webhook", "github-projects", "jira"])
@pytest.mark.parametrize("phase", ["status line", "body"])
def test_a_trickling_board_is_given_up_on_at_the_calls_deadline(trickling, kind, phase):
    server = trickling(0 if phase == "status line" else HEADERS_END)
    target, card_id = boards_at(server.url)[kind]
    started = time.monotonic()
    with pytest.raises(
        BoardUnavailable, match=rf"no complete answer within the {DEADLINE} s deadline"
    ):
        target.move(card_id, "In release", f"{card_id}/0/In release")
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 0.5, elapsed
    assert len(server.requests) == 1


def test_a_trickling_board_sends_the_event_back_for_later_not_to_the_dlq(feed, trickling):
    server = trickling(0)
    publish(
        feed[0], feed[2], cards.happy_path("PROJ-1", "dev", "uid-1", T0, timedelta(seconds=10))[:3]
    )
    bridge = bridge_with(feed, WebhookBoard(server.url, SECRET, deadline=DEADLINE))
    started = time.monotonic()
    assert bridge.poll_once() == 3
    assert time.monotonic() - started < DEADLINE + 1  # one deadline for the batch, not one each
    assert moves(bridge) == 0
    assert bridge.metrics.board_errors.labels("unavailable")._value.get() == 1
    assert in_queue(bridge) == 3  # all back later; none deleted, none dead-lettered
    assert dead_letters(feed) == []


# --- card ids in URLs --------------------------------------------------------------------

PATH_TRICKS = [
    "PROJ-1/../../rest/api/3/user?accountId=1",
    "PROJ-1/../../../admin",
    "PROJ-1%2F..%2F..%2Frest",
    "PROJ-1?expand=x",
    "PROJ-1#x",
    "../PROJ-1",
    "proj-1",
    "PROJ-",
]


def test_a_jira_feature_id_with_dot_segments_is_refused_before_any_request(feed, board):
    feature = "PROJ-1/../../rest/api/3/user?accountId=1"
    every = {c: f"t-{i}" for i, c in enumerate(COLUMNS)}
    jira = JiraBoard(board, "bot@example.com", "jira-token", every)
    publish(
        feed[0], feed[2], cards.happy_path(feature, "dev", "uid-1", T0, timedelta(seconds=10))[:2]
    )
    bridge = bridge_with(feed, jira)

    drain(bridge)

    assert RecordingBoard.requests == []  # no path reached, no credentials sent anywhere
    dead = dead_letters(feed)
    assert len(dead) == 2
    assert all(
        reason.startswith(f"board refused: jira: feature {feature!r} is not a Jira issue key")
        for _, reason in dead
    )
    assert CardStore(feed[1], "cards").get(feature).version == 0  # nothing stored for it


@pytest.mark.parametrize("feature", PATH_TRICKS)
def test_jira_takes_only_issue_keys_into_its_url(board, feature):
    every = {c: f"t-{i}" for i, c in enumerate(COLUMNS)}
    jira = JiraBoard(board, "bot@example.com", "jira-token", every)
    with pytest.raises(BoardRejected, match="is not a Jira issue key"):
        jira.move(feature, "In release", f"{feature}/0/In release")
    assert RecordingBoard.requests == []
    jira.move("PROJ_X2-123", "In release", "PROJ_X2-123/0/In release")
    ((method, path, headers),) = RecordingBoard.requests
    assert (method, path) == ("POST", "/rest/api/3/issue/PROJ_X2-123/transitions")
    assert headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("feature", ["PVTI_x/../../graphql", "PVTI_ab cd", "PROJ-1", "PVTI_"])
def test_github_takes_only_item_node_ids_and_the_webhook_any_id_in_its_body(board, feature):
    every = {c: f"o-{i}" for i, c in enumerate(COLUMNS)}
    github = GitHubProjectsBoard("gh-token", "PVT_1", "PVTSSF_1", every, f"{board}/graphql")
    with pytest.raises(BoardRejected, match="is not a project item's node id"):
        github.move(feature, "In release", f"{feature}/0/In release")
    assert RecordingBoard.requests == []
    WebhookBoard(board, SECRET).move(feature, "In release", f"{feature}/0/In release")
    ((_, path, _),) = RecordingBoard.requests
    assert path == "/card/move"  # the id travels in the signed body only


# --- settings files ----------------------------------------------------------------------

WEBHOOK = b'{"url": "http://127.0.0.1:9"}'
JIRA = json.dumps(
    {"baseUrl": "http://127.0.0.1:9", "email": "bot@example.com", "transitions": {"Done": "31"}}
).encode()
CONFIG_FIX = "write the board's settings there as one JSON object"
SECRET_FIX = "write the board's secret there alone on one line"
# name: (board, config bytes, secret bytes or None for a directory, rules bytes, setting,
#        what the message says)
BAD_SETTINGS = {
    "empty config": (
        "webhook",
        b"",
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        f"is empty; {CONFIG_FIX}",
    ),
    "blank config": ("webhook", b" \n\t\n", b"s", None, "RAILYARD_BOARD_CONFIG", "is empty"),
    "non-UTF-8 config": (
        "webhook",
        b'{"url": "http://h\xff"}',
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        f"is not UTF-8 text (byte 0xff at offset 17); {CONFIG_FIX}",
    ),
    "config not an object": (
        "webhook",
        b"[]",
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        f"holds a JSON list, not an object; {CONFIG_FIX}",
    ),
    "config not JSON": ("webhook", b"url: x", b"s", None, "RAILYARD_BOARD_CONFIG", "is not JSON"),
    "config url a number": (
        "webhook",
        b'{"url": 5}',
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        "url: Input should be a valid string; see docs/kanban.md (Connect a board)",
    ),
    "config url not http": (
        "webhook",
        b'{"url": "file:///etc/passwd"}',
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        "url: Value error, must be an http(s) URL",
    ),
    "config url port out of range": (
        "webhook",
        b'{"url": "https://kanban.example.com:70000/hooks"}',
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        "url: Value error, port 70000 is not 1-65535",
    ),
    "config key misspelt": (
        "jira",
        JIRA.replace(b"baseUrl", b"baseURL"),
        b"s",
        None,
        "RAILYARD_BOARD_CONFIG",
        "baseUrl: Field required; baseURL: Extra inputs are not permitted",
    ),
    "empty secret": (
        "webhook",
        WEBHOOK,
        b"",
        None,
        "RAILYARD_BOARD_SECRET_FILE",
        f"is empty; {SECRET_FIX}",
    ),
    "non-UTF-8 secret": (
        "webhook",
        WEBHOOK,
        b"\xffsecret\n",
        None,
        "RAILYARD_BOARD_SECRET_FILE",
        f"is not UTF-8 text (byte 0xff at offset 0); {SECRET_FIX}",
    ),
    "secret a directory": (
        "webhook",
        WEBHOOK,
        None,
        None,
        "RAILYARD_BOARD_SECRET_FILE",
        f"is a directory, not a regular file; {SECRET_FIX}",
    ),
    "token on two lines": (
        "jira",
        JIRA,
        b"jira-token\nsecond-line\n",
        None,
        "RAILYARD_BOARD_SECRET_FILE",
        "line breaks",
    ),
    "non-UTF-8 rules": (
        "webhook",
        WEBHOOK,
        b"s",
        b"columns: [\xe9]\n",
        "RAILYARD_COLUMN_RULES",
        "not UTF-8 text (byte 0xe9 in column 11)",
    ),
    # the rules file goes through the bounded loader too
    "deeply nested rules": (
        "webhook",
        WEBHOOK,
        b"s",
        b"columns: " + b"[" * 5000,
        "RAILYARD_COLUMN_RULES",
        "nested more than 16 levels deep",
    ),
    "aliased rules": (
        "webhook",
        WEBHOOK,
        b"s",
        b"columns: &c [a]\nrules: *c\n",
        "RAILYARD_COLUMN_RULES",
        "anchors and aliases",
    ),
}


def bridge_command() -> list[str]:
    """The installed ``railyard-bridge`` next to this interpreter (its entry point if not)."""
    found = shutil.which("railyard-bridge", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    return [sys.executable, "-c", "from railyard_runtime.kanban.server import main; main()"]


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_a_bad_settings_file_is_exit_2_naming_the_setting_and_the_fix(tmp_path, case):
    kind, config, secret, rules, setting, expected = BAD_SETTINGS[case]
    files = {"RAILYARD_BOARD_CONFIG": tmp_path / "board.json"}
    files["RAILYARD_BOARD_CONFIG"].write_bytes(config)
    files["RAILYARD_BOARD_SECRET_FILE"] = tmp_path / "secret"
    if secret is None:
        files["RAILYARD_BOARD_SECRET_FILE"].mkdir()
    else:
        files["RAILYARD_BOARD_SECRET_FILE"].write_bytes(secret)
    if rules is not None:
        files["RAILYARD_COLUMN_RULES"] = tmp_path / "rules.yaml"
        files["RAILYARD_COLUMN_RULES"].write_bytes(rules)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAILYARD_", "AWS_"))}
    env |= {name: str(path) for name, path in files.items()} | {
        "RAILYARD_EVENTS_QUEUE_URL": "http://127.0.0.1:9/q.fifo",
        "RAILYARD_EVENTS_DLQ_URL": "http://127.0.0.1:9/dlq.fifo",
        "RAILYARD_CARDS_TABLE": "cards",
        "RAILYARD_BOARD": kind,
    }
    done = subprocess.run(
        bridge_command(), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    problems = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert len(problems) == 1, done.stderr  # the one problem, not what follows from it
    assert problems[0].startswith(f"{setting}: {files[setting]}"), done.stderr
    assert expected in problems[0], done.stderr
