"""``railyard-bridge``: the bridge process — settings from the environment, one board, a
metrics/health endpoint, graceful shutdown on SIGTERM (the batch in hand is finished).

Environment (the Deployment sets it; secrets are files mounted from Kubernetes Secrets):

- ``RAILYARD_EVENTS_QUEUE_URL``, ``RAILYARD_EVENTS_DLQ_URL``, ``RAILYARD_CARDS_TABLE``
- ``RAILYARD_BOARD``: ``webhook`` | ``github-projects`` | ``jira``
- ``RAILYARD_BOARD_CONFIG``: JSON file: webhook ``{"url"}``; github-projects ``{"url",
  "projectId", "statusFieldId", "options": {column: optionId}}``; jira ``{"baseUrl", "email",
  "transitions": {column: transitionId}}``
- ``RAILYARD_BOARD_SECRET_FILE``: the webhook's HMAC secret, GitHub token or Jira API token
- ``RAILYARD_COLUMN_RULES``: optional YAML or JSON file of column rules (default: the unified
  release's)
- ``RAILYARD_BRIDGE_PORT``: metrics (``/metrics``) and health (``/healthz``), default 9102
- ``RAILYARD_EVENTS_VISIBILITY_SECONDS``: the queue's visibility timeout, default 60
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from railyard_runtime import clouds
from railyard_runtime.errors import BadInput
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.boards import Board, GitHubProjectsBoard, JiraBoard, WebhookBoard
from railyard_runtime.kanban.bridge import Bridge, BridgeSettings
from railyard_runtime.kanban.store import CardStore

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


def _json_file(name: str, problems: list[str]) -> dict:
    path = _env(name, problems)
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        problems.append(f"{name}: cannot read {path} as JSON ({e})")
        return {}


def board_from_env(problems: list[str]) -> Board | None:
    kind = _env("RAILYARD_BOARD", problems)
    config = _json_file("RAILYARD_BOARD_CONFIG", problems)
    secret_file = _env("RAILYARD_BOARD_SECRET_FILE", problems)
    secret = (
        Path(secret_file).read_text().strip() if secret_file and Path(secret_file).is_file() else ""
    )
    if secret_file and not secret:
        problems.append(f"RAILYARD_BOARD_SECRET_FILE: {secret_file} is missing or empty")
    try:
        if kind == "webhook":
            return WebhookBoard(config["url"], secret)
        if kind == "github-projects":
            return GitHubProjectsBoard(
                secret,
                config["projectId"],
                config["statusFieldId"],
                config["options"],
                api_url=config.get("url", "https://api.github.com/graphql"),
            )
        if kind == "jira":
            return JiraBoard(config["baseUrl"], config["email"], secret, config["transitions"])
    except KeyError as e:
        problems.append(f"RAILYARD_BOARD_CONFIG: {kind} needs {e.args[0]!r}")
        return None
    if kind:
        problems.append(f"RAILYARD_BOARD: {kind!r}; use webhook, github-projects or jira")
    return None


def rules_from_env(problems: list[str]) -> cards.ColumnRules:
    path = os.environ.get("RAILYARD_COLUMN_RULES", "").strip()
    if not path:
        return cards.DEFAULT_RULES
    try:
        return cards.load_rules(Path(path))
    except ValueError as e:
        problems.append(f"RAILYARD_COLUMN_RULES: {e}")
        return cards.DEFAULT_RULES


def build_bridge() -> tuple[Bridge, int]:
    problems: list[str] = []
    queue = _env("RAILYARD_EVENTS_QUEUE_URL", problems)
    dlq = _env("RAILYARD_EVENTS_DLQ_URL", problems)
    table = _env("RAILYARD_CARDS_TABLE", problems)
    board = board_from_env(problems)
    rules = rules_from_env(problems)
    port = _int_env("RAILYARD_BRIDGE_PORT", 9102, 1, 65535, problems)
    visibility = _int_env("RAILYARD_EVENTS_VISIBILITY_SECONDS", 60, 10, 43200, problems)
    if problems or board is None:
        raise BadInput("bridge settings:\n  " + "\n  ".join(problems))
    store = CardStore(clouds.aws_client("dynamodb"), table)
    settings = BridgeSettings(queue_url=queue, dlq_url=dlq, visibility_seconds=visibility)
    return Bridge(clouds.aws_client("sqs"), store, board, rules, settings), port


def serve_metrics(bridge: Bridge, port: int) -> ThreadingHTTPServer:
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
