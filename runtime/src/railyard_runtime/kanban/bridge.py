"""The bridge: SQS FIFO → card store → board, each message deleted only once both agree.

Per message: parse (a message that is not an event, or whose card id the board does not take,
goes to the DLQ with the reason); keep it in the events table for reports (a put on its own
key: a repeat lands on the same item); apply it to the card with a conditional write (a lost race
re-reads and re-decides, so two consumers never both apply one event); if the card's column
differs from what the board shows, move the board, then record the column. The batch's
finished messages are then deleted in one call. A board or card store that is down leaves the
message for a later receive (backoff through the visibility timeout; SQS's redrive sends it to
the DLQ after the configured receives); anything else that keeps a message from being applied
sends it to the DLQ with the reason, so it never holds up the events after it. A consumer killed
anywhere in between sees the message again and converges to the same card, repeating a board
move (with the same move id) only if it died between moving and recording it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError

from railyard_runtime.events import PipelineEvent
from railyard_runtime.history import EventHistory
from railyard_runtime.kanban import cards
from railyard_runtime.kanban.boards import Board, BoardRejected, BoardUnavailable
from railyard_runtime.kanban.store import CardStore
from railyard_runtime.report import metrics as delivery_metrics
from railyard_runtime.report.metrics import BridgeError

log = logging.getLogger("railyard.bridge")
MAX_WRITE_RACES = 20
# SQS keeps message attributes to XML 1.0's characters
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Contended(Exception):
    """Other consumers kept winning the card's conditional write: worth another try later."""


def _problems(error: ValidationError) -> str:
    """Every field a message got wrong, each named by its path."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in error.errors()
    )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "railyard_bridge_events_total",
            "Events by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.moves = Counter(
            "railyard_bridge_board_moves_total",
            "Cards moved on the board",
            registry=self.registry,
        )
        self.board_seconds = Histogram(
            "railyard_bridge_board_move_seconds",
            "Time a board move took (answered ones, errors included)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.board_errors = Counter(
            "railyard_bridge_board_errors_total",
            "Board calls that failed",
            ["kind"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "railyard_bridge_lag_seconds",
            "Age of the oldest message of the last finished batch (sent to done)",
            registry=self.registry,
        )
        self.last_poll = Gauge(
            "railyard_bridge_last_poll_timestamp_seconds",
            "When the queue was last polled",
            registry=self.registry,
        )


@dataclass
class BridgeSettings:
    queue_url: str
    dlq_url: str
    wait_seconds: int = 20
    batch: int = 10
    retry_base_seconds: int = 5
    retry_max_seconds: int = 300
    visibility_seconds: int = 60
    """The queue's visibility timeout: what a batch has not started by half of it is handed
    back, so no message becomes visible to another consumer while this one still works on it."""


class Bridge:
    def __init__(
        self,
        sqs,
        store: CardStore,
        board: Board,
        rules: cards.ColumnRules,
        settings: BridgeSettings,
        metrics: Metrics | None = None,
        history: EventHistory | None = None,
        cloudwatch=None,
    ):
        self.sqs = sqs
        self.history = history
        self.cloudwatch = cloudwatch
        """Where error counts go (the release dashboard); None: Prometheus only."""
        self._errors: Tally[BridgeError] = Tally()
        self.store = store
        self.board = board
        self.rules = rules
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.stopping = threading.Event()
        self.last_poll_at = time.time()
        self._written: dict[str, cards.Card] = {}
        """Cards this consumer wrote during the current batch (FIFO hands one consumer a
        feature's messages in a row): a guess that saves a read, checked by the write."""

    # --- one event ---------------------------------------------------------------------
    def apply(self, event: PipelineEvent) -> tuple[cards.Card, cards.Outcome]:
        guess = self._written.pop(event.feature, None)
        for _ in range(MAX_WRITE_RACES):
            card = guess or self.store.get(event.feature)
            updated, outcome = cards.apply(card, event)
            if outcome is not cards.Outcome.APPLIED and guess is None:
                return card, outcome
            if outcome is cards.Outcome.APPLIED and self.store.put(updated, card.version):
                return updated, outcome
            guess = None  # decided on a card that may be behind the store: read it, decide again
        raise Contended(f"card {event.feature}: {MAX_WRITE_RACES} write races in a row")

    def sync_board(self, card: cards.Card) -> None:
        """Move the board if the card's column is not what the board shows, then record it."""
        for _ in range(MAX_WRITE_RACES):
            column = self.rules.column(card)
            if column is None or column == card.board_column:
                self._written[card.feature] = card
                return
            with self.metrics.board_seconds.time():
                self.board.move(card.feature, column, move_id=card.move_id(column))
            self.metrics.moves.inc()
            log.info("moved %s to %r", card.feature, column)
            recorded = card.model_copy(
                update={
                    "board_column": column,
                    "board_moves": card.board_moves + 1,
                    "version": card.version + 1,
                }
            )
            if self.store.put(recorded, card.version):
                self._written[card.feature] = recorded
                return
            card = self.store.get(card.feature)
        raise Contended(f"card {card.feature}: {MAX_WRITE_RACES} write races in a row")

    # --- one message -------------------------------------------------------------------
    def handle(self, message: dict) -> bool:
        """Handle one message: True when it is finished with (applied and on the board, or
        dead-lettered) and may be deleted; False when the board or the card store is down
        (it comes back).

        Whatever else keeps a message from being applied is about that message: it goes to
        the DLQ with the reason, so the events after it in its group go on.
        """
        try:
            event = PipelineEvent.model_validate_json(message["Body"])
        except ValidationError as e:
            self._count_error(BridgeError.POISON)
            self._dead_letter(message, f"not a pipeline event: {_problems(e)}")
            return True
        try:
            if self.history is not None:  # before the board: reports count every run
                self.history.record(event)
            self.board.check_card(event.feature)
            card, outcome = self.apply(event)
            self.metrics.events.labels(outcome.value).inc()
            self.sync_board(card)
        except BoardUnavailable as e:
            self._count_error(BridgeError.BOARD_UNAVAILABLE)
            delay = self._retry_later(message)
            log.warning("board unavailable (%s); %s again in %ss", e, event.feature, delay)
            return False
        except (BotoCoreError, ClientError, Contended) as e:
            self._count_error(BridgeError.STORE)
            delay = self._retry_later(message)
            log.warning("card store unavailable (%s); %s again in %ss", e, event.feature, delay)
            return False
        except BoardRejected as e:
            self._count_error(BridgeError.BOARD_REJECTED)
            self._dead_letter(message, f"board refused: {e}")
        except Exception as e:
            log.exception("cannot apply %s", message.get("MessageId"))
            self._count_error(BridgeError.POISON)
            problem = " ".join(str(e).split())  # one line, whatever the exception made of it
            self._dead_letter(
                message, f"cannot apply to card {event.feature}: {type(e).__name__}: {problem}"
            )
        return True

    def _count_error(self, kind: BridgeError) -> None:
        """In Prometheus at once; for CloudWatch, tallied until the batch ends."""
        if kind is BridgeError.POISON:
            self.metrics.events.labels("poison").inc()
        elif kind in (BridgeError.BOARD_UNAVAILABLE, BridgeError.BOARD_REJECTED):
            self.metrics.board_errors.labels(kind.value.removeprefix("board-")).inc()
        if self.cloudwatch is not None:
            self._errors[kind] += 1

    def flush_errors(self) -> None:
        """The batch's error counts to CloudWatch, one call; a failed put is only logged (the
        counts stay in Prometheus) and never holds up the queue."""
        if self.cloudwatch is None or not self._errors:
            return
        now = datetime.now(UTC)
        data = [
            delivery_metrics.datum(
                delivery_metrics.BRIDGE_ERRORS, {"Kind": kind.value}, now, count, "Count"
            )
            for kind, count in sorted(self._errors.items())
        ]
        self._errors.clear()
        try:
            delivery_metrics.put(self.cloudwatch, data)
        except (BotoCoreError, ClientError) as e:
            log.warning("cannot put error counts to CloudWatch: %s", e)

    def _retry_later(self, message: dict) -> int:
        """Hide the message for an exponential backoff (by its receive count); SQS's redrive
        policy dead-letters it after the configured receives."""
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        delay = min(
            self.settings.retry_max_seconds,
            self.settings.retry_base_seconds * 2 ** (receives - 1),
        )
        self.sqs.change_message_visibility(
            QueueUrl=self.settings.queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=delay,
        )
        return delay

    def _hand_back(self, message: dict) -> None:
        """Visible again now: the next poll (here or in another replica) takes it, in order."""
        self.sqs.change_message_visibility(
            QueueUrl=self.settings.queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )

    def _delete(self, messages: list[dict]) -> None:
        """One call for the batch's finished messages. One that fails to delete comes back
        and is a duplicate then: nothing changes twice."""
        if not messages:
            return
        answer = self.sqs.delete_message_batch(
            QueueUrl=self.settings.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        for failed in answer.get("Failed", []):
            log.warning("delete failed (%s); the message will come back", failed.get("Message"))
        sent = [
            int(m["Attributes"]["SentTimestamp"])
            for m in messages
            if "SentTimestamp" in m.get("Attributes", {})
        ]
        if sent:
            self.metrics.lag.set(max(0.0, time.time() - min(sent) / 1000))

    def _dead_letter(self, message: dict, reason: str) -> None:
        """Keep the message, with why, in the DLQ (the batch's delete takes it off the queue)."""
        log.error("dead-lettering message %s: %s", message.get("MessageId"), reason)
        group = message.get("Attributes", {}).get("MessageGroupId", "poison")
        self.sqs.send_message(
            QueueUrl=self.settings.dlq_url,
            MessageBody=message["Body"],
            MessageGroupId=group,
            MessageDeduplicationId=message["MessageId"],
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": _NOT_XML.sub("?", reason)[:1024]}
            },
        )

    # --- the loop ----------------------------------------------------------------------
    def poll_once(self) -> int:
        answer = self.sqs.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=self.settings.batch,
            WaitTimeSeconds=self.settings.wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        received = time.monotonic()
        self.last_poll_at = time.time()
        self.metrics.last_poll.set(self.last_poll_at)
        messages = answer.get("Messages", [])
        finished, held_up = [], False
        try:
            for message in messages:  # in order: one FIFO group's messages come in sequence
                if held_up:  # one timeout per batch, not one per message
                    self._retry_later(message)
                elif time.monotonic() - received > self.settings.visibility_seconds / 2:
                    log.warning("slow batch: handing back %s", message.get("MessageId"))
                    self._hand_back(message)
                elif self.handle(message):
                    finished.append(message)
                else:
                    held_up = True
        finally:  # what is finished is deleted even if a later message failed
            self._written.clear()
            self._delete(finished)
            self.flush_errors()
        return len(messages)

    def run(self) -> None:
        """Poll until ``stop()``; the batch in hand is finished first (graceful shutdown)."""
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("poll failed; retrying")
                self.stopping.wait(self.settings.retry_base_seconds)

    def stop(self) -> None:
        self.stopping.set()
