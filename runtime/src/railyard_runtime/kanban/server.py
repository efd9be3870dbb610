"""``railyard-bridge``: the bridge process — settings from the environment, one board, a
metrics/health endpoint, graceful shutdown on SIGTERM (the batch in hand is finished).

Environment (the Deployment sets it, by the names in ``railyard_runtime.environment.BridgeEnv``;
secrets are files mounted from Kubernetes Secrets):

- ``RAILYARD_EVENTS_QUEUE_URL``, ``RAILYARD_EVENTS_DLQ_URL``, ``RAILYARD_CARDS_TABLE``
- ``RAILYARD_BOARD``: ``webhook`` | ``github-projects`` | ``jira``
- ``RAILYARD_BOARD_CONFIG``: JSON file: webhook ``{"url"}``; github-projects ``{"url",
  "projectId", "statusFieldId", "options": {column: optionId}}``; jira ``{"baseUrl", "email",
  "transitions": {column: transitionId}}`` (no other keys; URLs http(s); the models are in
  ``kanban.board_config``)
- ``RAILYARD_BOARD_SECRET_FILE``: the webhook's HMAC secret, GitHub token or Jira API token,
  alone on one line

Both files must be regular, non-empty UTF-8 files of at most 64 KiB; anything wrong with a
setting stops the bridge with exit 2 and the setting named.
- ``RAILYARD_COLUMN_RULES``: optional YAML or JSON file of column rules (default: the unified
  release's)
- ``RAILYARD_BRIDGE_PORT``: metrics (``/metrics``) and health (``/healthz``), default 9102
- ``RAILYARD_EVENTS_VISIBILITY_SECONDS``: the queue's visibility timeout, default 60
- ``RAILYARD_EVENTS_WAIT_SECONDS``: how long one receive waits for messages (1-20), default 20;
  a SIGTERM waits for the receive in hand
- ``RAILYARD_EVENTS_TABLE``: optional DynamoDB table every event is kept in for the delivery
  reports (``railyard-steps report``)
- ``RAILYARD_CLOUDWATCH_METRICS``: ``on`` puts error counts to CloudWatch each batch (the
  release dashboard); default ``off``
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from railyard_runtime import files
from railyard_runtime.environment import BridgeEnv
from railyard_runtime.errors import BadInput
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.board_config import (
    BOARD_CONFIGS,
    BoardConfig,
    GitHubProjectsConfig,
    JiraConfig,
    WebhookConfig,
)

# The boards, the AWS SDK and the metrics server are imported where used, once the settings are
# good: a bridge refused for its settings exits without loading them.
if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from railyard_runtime.kanban.boards import Board
    from railyard_runtime.kanban.bridge import Bridge

log = logging.getLogger("railyard.bridge")
STALE_AFTER = 120  # seconds without a poll: unhealthy (a poll waits at most 20 s)


def _env(name: str, problems: list[str]) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        problems.append(f"{name}: not set")
    return value


def _int_env(name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        problems.append(f"{name}: {raw!r} is not a whole number from {low} to {high}")
        return default
    return int(raw)


MAX_SETTING_FILE = 64 * 1024
"""Bytes a board config or secret file may have: a few hundred is what they hold."""
CONFIG_FIX = "write the board's settings there as one JSON object (docs/kanban.md, Connect a board)"
SECRET_FIX = (
    "write the board's secret there alone on one line (the webhook's HMAC secret, the GitHub"
    " token or the Jira API token)"
)


def _text_file(name: str, fix: str, problems: list[str]) -> tuple[str, str | None]:
    """The path the setting ``name`` holds and the file's text: a regular, non-empty UTF-8
    file of at most ``MAX_SETTING_FILE`` bytes. Otherwise the text is None and the problem is
    named with ``fix``."""
    path = _env(name, problems)
    if not path:
        return path, None
    try:
        data = files.read_regular(path, MAX_SETTING_FILE)
    except files.FileRefused as e:
        problems.append(f"{name}: {path} {e.problem}; {fix}")
        return path, None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        problems.append(
            f"{name}: {path} is not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start});"
            f" {fix}"
        )
        return path, None
    if not text.strip():
        problems.append(f"{name}: {path} is empty; {fix}")
        return path, None
    return path, text


_TOKEN = re.compile(r"[!-~]+")
"""What an HTTP header can carry of a token: printable ASCII, no spaces."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _board_config(kind: str, problems: list[str]) -> BoardConfig | None:
    path, text = _text_file(BridgeEnv.BOARD_CONFIG, CONFIG_FIX, problems)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError as e:
        problems.append(f"{BridgeEnv.BOARD_CONFIG}: {path} is not JSON ({e}); {CONFIG_FIX}")
        return None
    if not isinstance(document, dict):
        problems.append(
            f"{BridgeEnv.BOARD_CONFIG}: {path} holds a JSON {type(document).__name__}, not an"
            f" object; {CONFIG_FIX}"
        )
        return None
    model = BOARD_CONFIGS.get(kind)
    if model is None:  # the kind is reported on its own
        return None
    try:
        return model.from_document(document)
    except ValidationError as e:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        problems.append(
            f"{BridgeEnv.BOARD_CONFIG}: {path}: {fields}; see docs/kanban.md (Connect a board) for"
            f" the keys of a {kind} board"
        )
        return None


def _board_secret(kind: str, problems: list[str]) -> str | None:
    path, text = _text_file(BridgeEnv.BOARD_SECRET_FILE, SECRET_FIX, problems)
    if text is None:
        return None
    secret = text.strip()
    # tokens travel in a header; the webhook's secret only keys the HMAC, but a control
    # character (a second line) in it is a pasting mistake either way
    if (kind in ("github-projects", "jira") and not _TOKEN.fullmatch(secret)) or (
        _CONTROL.search(secret)
    ):
        problems.append(
            f"{BridgeEnv.BOARD_SECRET_FILE}: {path} holds spaces, line breaks, control or non-ASCII"
            f" characters a {kind} token cannot have; {SECRET_FIX}"
        )
        return None
    return secret


def board_from_env(problems: list[str]) -> Board | None:
    kind = _env(BridgeEnv.BOARD, problems)
    if kind and kind not in BOARD_CONFIGS:
        problems.append(f"{BridgeEnv.BOARD}: {kind!r}; use webhook, github-projects or jira")
    config = _board_config(kind, problems)
    secret = _board_secret(kind, problems)
    if config is None or secret is None:
        return None
    from railyard_runtime.kanban.boards import GitHubProjectsBoard, JiraBoard, WebhookBoard

    if isinstance(config, WebhookConfig):
        return WebhookBoard(config.url, secret)
    if isinstance(config, GitHubProjectsConfig):
        return GitHubProjectsBoard(
            secret,
            config.project_id,
            config.status_field_id,
            dict(config.options),
            api_url=config.url,
        )
    assert isinstance(config, JiraConfig)
    return JiraBoard(config.base_url, config.email, secret, dict(config.transitions))


def rules_from_env(problems: list[str]) -> cards.ColumnRules:
    path = os.environ.get(BridgeEnv.COLUMN_RULES, "").strip()
    if not path:
        return cards.DEFAULT_RULES
    try:
        return cards.load_rules(Path(path))
    except ValueError as e:
        problems.append(f"{BridgeEnv.COLUMN_RULES}: {e}")
        return cards.DEFAULT_RULES


def build_bridge() -> tuple[Bridge, int]:
    problems: list[str] = []
    queue = _env(BridgeEnv.EVENTS_QUEUE_URL, problems)
    dlq = _env(BridgeEnv.EVENTS_DLQ_URL, problems)
    table = _env(BridgeEnv.CARDS_TABLE, problems)
    board = board_from_env(problems)
    rules = rules_from_env(problems)
    port = _int_env(BridgeEnv.PORT, 9102, 1, 65535, problems)
    visibility = _int_env(BridgeEnv.EVENTS_VISIBILITY_SECONDS, 60, 10, 43200, problems)
    wait = _int_env(BridgeEnv.EVENTS_WAIT_SECONDS, 20, 1, 20, problems)
    events_table = os.environ.get(BridgeEnv.EVENTS_TABLE, "").strip()
    error_metrics = os.environ.get(BridgeEnv.CLOUDWATCH_METRICS, "off").strip() or "off"
    if error_metrics not in ("on", "off"):
        problems.append(f"{BridgeEnv.CLOUDWATCH_METRICS}: {error_metrics!r} is not on or off")
    if problems or board is None:
        raise BadInput("bridge settings:\n  " + "\n  ".join(problems))
    from railyard_runtime import clouds
    from railyard_runtime.history import EventHistory
    from railyard_runtime.kanban.bridge import Bridge, BridgeSettings
    from railyard_runtime.kanban.store import CardStore

    dynamodb = clouds.aws_client("dynamodb")
    store = CardStore(dynamodb, table)
    settings = BridgeSettings(
        queue_url=queue, dlq_url=dlq, wait_seconds=wait, visibility_seconds=visibility
    )
    bridge = Bridge(
        clouds.aws_client("sqs"),
        store,
        board,
        rules,
        settings,
        history=EventHistory(dynamodb, events_table) if events_table else None,
        cloudwatch=clouds.aws_client("cloudwatch") if error_metrics == "on" else None,
    )
    return bridge, port


def serve_metrics(bridge: Bridge, port: int) -> ThreadingHTTPServer:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/metrics":
                body, status = generate_latest(bridge.metrics.registry), 200
                kind = CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                polled_ago = time.time() - bridge.last_poll_at
                healthy = not bridge.stopping.is_set() and polled_ago < STALE_AFTER
                body, status, kind = (
                    (b"ok" if healthy else b"unhealthy"),
                    200 if healthy else 503,
                    "text/plain",
                )
            else:
                body, status, kind = b"not found", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # all interfaces: the pod IP
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        bridge, port = build_bridge()
    except BadInput as e:
        print(e.message, file=sys.stderr)
        sys.exit(int(e.exit_code))
    server = serve_metrics(bridge, port)
    signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
    signal.signal(signal.SIGINT, lambda *_: bridge.stop())
    log.info("bridge up: board %s, metrics on :%d", bridge.board.name, port)
    bridge.run()
    server.shutdown()
    log.info("bridge stopped")
