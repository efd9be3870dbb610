"""Kanban bridge benchmark on loopback: moto's SQS FIFO + DynamoDB, a local webhook board.

    python bench/kanban_bench.py [--features 200 --wave 10 --probes 100]

1. Throughput: every feature's release events (9 each) plus 10% duplicates, each feature's
   events shuffled; published ``--wave`` features at a time (moto scans its whole queue on
   every receive, real SQS does not), each wave drained by one bridge. Prints events/s, the
   share spent inside moto's API calls, whether every card ended where an in-order run ends,
   and the board's moves against a pure replay of the same deliveries.
2. Latency: one event at a time into an idle, long-polling bridge; publish → board move,
   p50/p99.
moto runs as its own process (``moto_server``), so the numbers are the bridge's plus moto's
per-request cost, not the two fighting over one interpreter. Prints numbers; asserts nothing
(the checks it prints are for the reader).
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated

import boto3
import typer
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from railyard_runtime.events import PipelineEvent
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.boards import WebhookBoard
from railyard_runtime.kanban.bridge import Bridge, BridgeSettings
from railyard_runtime.kanban.store import CardStore


class Board(BaseHTTPRequestHandler):
    moves: list[tuple[float, str, str]] = []  # noqa: RUF012 - one board per run
    lock = threading.Lock()

    def do_POST(self):
        move = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            Board.moves.append((time.perf_counter(), move["card"], move["column"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def events_of(feature: str, t0: datetime) -> list[PipelineEvent]:
    return cards.happy_path(feature, "bench", "u", t0, timedelta(seconds=1))


def send(sqs, queue: str, events: list[PipelineEvent], salt: str) -> None:
    for i in range(0, len(events), 10):
        batch = events[i : i + 10]
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {
                    "Id": str(j),
                    "MessageBody": e.model_dump_json(by_alias=True),
                    "MessageGroupId": e.feature,
                    "MessageDeduplicationId": f"{salt}-{i + j}",
                }
                for j, e in enumerate(batch)
            ],
        )


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto_server did not start within 30 s")


class CallTimer:
    """Wall time spent inside AWS API calls (botocore events), to tell moto's share apart."""

    def __init__(self, *clients):
        self.seconds, self.calls, self._started = 0.0, 0, 0.0
        for c in clients:
            c.meta.events.register("before-call.*.*", self._before)
            c.meta.events.register("after-call.*.*", self._after)

    def _before(self, **_):
        self._started = time.perf_counter()

    def _after(self, **_):
        self.seconds += time.perf_counter() - self._started
        self.calls += 1


def main(
    features: Annotated[int, typer.Option(help="Features (cards) in the throughput run.")] = 200,
    wave: Annotated[
        int, typer.Option(help="Features published at a time (moto scans its whole queue)")
    ] = 10,
    probes: Annotated[int, typer.Option(help="Single events timed end to end.")] = 100,
) -> None:
    console = Console()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    moto, endpoint = start_moto()
    board = ThreadingHTTPServer(("127.0.0.1", 0), Board)
    threading.Thread(target=board.serve_forever, daemon=True).start()
    try:
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        ddb = boto3.client("dynamodb", endpoint_url=endpoint)
        dlq = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        queue = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        ddb.create_table(
            TableName="cards",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "feature", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "feature", "AttributeType": "S"}],
        )
        store = CardStore(ddb, "cards")
        bridge = Bridge(
            sqs,
            store,
            WebhookBoard(f"http://127.0.0.1:{board.server_port}", "s"),
            cards.DEFAULT_RULES,
            BridgeSettings(queue, dlq, wait_seconds=1),
        )

        # 1. throughput: waves of features, each feature's events duplicated ~10% and shuffled
        rng = random.Random(11)
        t0 = datetime(2026, 11, 23, tzinfo=UTC)
        handled, elapsed, aws_seconds, aws_calls, predicted_moves = 0, 0.0, 0.0, 0, 0
        timer = CallTimer(sqs, ddb)
        for first in range(0, features, wave):
            published = []
            for f in range(first, min(features, first + wave)):
                events = events_of(f"F-{f}", t0)
                events += rng.sample(events, k=max(1, len(events) // 10))
                rng.shuffle(events)
                predicted_moves += len(cards.columns_through(f"F-{f}", events, bridge.rules))
                published += events
            send(sqs, queue, published, f"load-{first}")
            timer.seconds, timer.calls = 0.0, 0  # count the drain only, not the publishing
            started = time.perf_counter()
            in_wave = 0
            while in_wave < len(published):
                got = bridge.poll_once()
                if got == 0:
                    break
                in_wave += got
            elapsed += time.perf_counter() - started
            aws_seconds, aws_calls = aws_seconds + timer.seconds, aws_calls + timer.calls
            handled += in_wave
        final = sum(store.get(f"F-{f}").board_column == "Android released" for f in range(features))
        moves = len(Board.moves)

        # 2. latency: one event at a time into the idle bridge, long polling in a thread
        latencies = []
        polling = threading.Thread(target=bridge.run, daemon=True)
        polling.start()
        for p in range(probes):
            event = events_of(f"P-{p}", t0)[0]
            before = len(Board.moves)
            sent = time.perf_counter()
            send(sqs, queue, [event], f"probe-{p}")
            deadline = sent + 10
            while len(Board.moves) == before and time.perf_counter() < deadline:
                time.sleep(0.001)
            latencies.append((Board.moves[-1][0] - sent) * 1000)
        bridge.stop()
        polling.join(timeout=5)

        table = Table("Kanban bridge (one process, loopback, moto in its own process)", "measured")
        table.add_row(
            f"{features} features x 9 events + ~10% duplicates, shuffled, {wave} at a time",
            f"{handled} in {elapsed:.1f} s = [bold]{handled / elapsed:.0f} events/s[/bold]",
        )
        table.add_row(
            "  of which inside moto's API calls",
            f"{aws_seconds:.1f} s ({aws_seconds / elapsed:.0%}), {aws_calls} calls, "
            f"{aws_seconds / aws_calls * 1000:.1f} ms each",
        )
        table.add_row(
            "  bridge's own time per event",
            f"{(elapsed - aws_seconds) / handled * 1000:.2f} ms (board calls included)",
        )
        table.add_row("cards ending in 'Android released'", f"{final} / {features}")
        table.add_row(
            "board moves", f"{moves} (pure replay of the same deliveries: {predicted_moves})"
        )
        q = statistics.quantiles(latencies, n=100)
        table.add_row(
            f"publish -> board move, idle bridge ({probes} events)",
            f"p50 {statistics.median(latencies):.0f} ms, p99 {q[98]:.0f} ms",
        )
        console.print(table)
    finally:
        board.shutdown()
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    typer.run(main)
