"""``events publish``: one pipeline status event to the SQS FIFO queue.

Messages of one feature share a group (the board sees them in order); the deduplication id
``<workflow uid>/<task>/<phase>`` makes a retried exit hook a no-op within SQS's window.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Lane(StrEnum):
    BACKEND = "backend"
    PWA = "pwa"
    ANDROID = "android"
    RELEASE = "release"


class Phase(StrEnum):
    """Argo node phases, as ``{{tasks.X.status}}`` and ``{{workflow.status}}`` give them."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"


class PipelineEvent(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)
    # SQS group and deduplication ids take printable ASCII without spaces
    feature: str = Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")
    env: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")
    lane: Lane
    phase: Phase
    workflow_uid: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")
    task: str = Field(min_length=1, max_length=256, pattern=r"^[!-~]+$")
    # with its zone: a zone-less time cannot be ordered against the lane's other events
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def deduplication_id(self) -> str:
        dedup = f"{self.workflow_uid}/{self.task}/{self.phase.value}"
        if len(dedup) <= 128:  # SQS's limit; a very long task name is hashed to fit
            return dedup
        task = hashlib.sha256(self.task.encode()).hexdigest()[:32]
        return f"{self.workflow_uid}/{task}/{self.phase.value}"


def publish(sqs, queue_url: str, event: PipelineEvent) -> str:
    result = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=event.model_dump_json(by_alias=True),
        MessageGroupId=event.feature,
        MessageDeduplicationId=event.deduplication_id,
    )
    return result["MessageId"]
