"""Pipeline events kept for reports: a DynamoDB table the bridge appends to, or a file.

The table's key is the environment and ``<time>#<deduplication id>``: one environment's events
come back in time order from one query, and the same event written twice (a redelivered
message, a second bridge replica) lands on the same item. Items expire after ``RETENTION``.

A file holds events one JSON object per line, as the queue carries them (``aws sqs
receive-message`` bodies, or an export of the table).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from railyard_runtime.events import PipelineEvent
from railyard_runtime.files import FileRefused, read_regular

HASH_KEY, RANGE_KEY, EXPIRES = "env", "at", "expires"
"""The table's key attributes (both strings) and its TTL attribute: the stack creates it so."""
RETENTION = timedelta(days=400)  # a year of history, and a window that reaches back a month
MAX_FILE_BYTES = 128 << 20  # 250,000 events of ~400 bytes, with room
MAX_LINE_BYTES = 64 << 10
MAX_EVENTS = 250_000
"""Most events one report reads (a busy year of one environment, many times over)."""


class HistoryError(ValueError):
    """What is wrong with the history, naming where (line, item)."""


def sort_key(event: PipelineEvent) -> str:
    return f"{_stamp(event.time)}#{event.deduplication_id}"


def _stamp(time: datetime) -> str:
    # one fixed width in UTC: the strings sort as the times do
    return time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventHistory:
    def __init__(self, dynamodb, table: str):
        self.client = dynamodb
        self.table = table

    def record(self, event: PipelineEvent) -> None:
        expires = int((event.time + RETENTION).timestamp())
        self.client.put_item(
            TableName=self.table,
            Item={
                HASH_KEY: {"S": event.env},
                RANGE_KEY: {"S": sort_key(event)},
                "event": {"S": event.model_dump_json(by_alias=True, exclude_none=True)},
                EXPIRES: {"N": str(expires)},
            },
        )

    def read(self, env: str, since: datetime, until: datetime) -> list[PipelineEvent]:
        """``env``'s events from ``since`` up to (not including) ``until``."""
        found: list[PipelineEvent] = []
        for item in self._items(env, since, until):
            if len(found) >= MAX_EVENTS:
                raise HistoryError(f"more than {MAX_EVENTS:,} events: ask for a shorter window")
            try:
                found.append(PipelineEvent.model_validate_json(item["event"]["S"]))
            except (KeyError, ValidationError):
                at = item.get(RANGE_KEY, {}).get("S", "?")
                raise HistoryError(f"{self.table} item {at!r}: not a pipeline event") from None
        return found

    def _items(self, env: str, since: datetime, until: datetime) -> Iterator[dict]:
        query = {
            "TableName": self.table,
            # both names as placeholders: AT is one of DynamoDB's reserved words
            "KeyConditionExpression": "#env = :env AND #at BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#env": HASH_KEY, "#at": RANGE_KEY},
            "ExpressionAttributeValues": {
                ":env": {"S": env},
                ":since": {"S": _stamp(since)},
                ":until": {"S": _stamp(until - timedelta(microseconds=1)) + "~"},
            },
        }
        while True:
            page = self.client.query(**query)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def read_file(path: Path) -> list[PipelineEvent]:
    """Every event of a JSON-lines file; the first line that is not one is named."""
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except FileRefused as e:
        raise HistoryError(f"{path}: {e.problem}") from None
    found: list[PipelineEvent] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        if len(raw) > MAX_LINE_BYTES:
            raise HistoryError(f"{where}: longer than {MAX_LINE_BYTES:,} bytes; not an event")
        if len(found) >= MAX_EVENTS:
            raise HistoryError(f"{where}: more than {MAX_EVENTS:,} events; split the file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HistoryError(f"{where}: not UTF-8") from None
        try:
            found.append(PipelineEvent.model_validate_json(text))
        except ValidationError as e:
            problem = e.errors()[0]
            field = ".".join(str(p) for p in problem["loc"]) or "(line)"
            raise HistoryError(f"{where}: {field}: {problem['msg']}") from None
    return found
