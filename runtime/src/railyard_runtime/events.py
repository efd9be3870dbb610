"""``events publish``: one pipeline status event to the SQS FIFO queue.

Messages of one feature share a group (the board sees them in order); the deduplication id
``<workflow uid>/<task>/<phase>`` makes a retried exit hook a no-op within SQS's window.

Besides what the board needs, an event says which run it belongs to (``template``), which
change that run delivers (``commit``, ``commitTime``, ``repository``) and whether a lane was
rolled back: what the delivery report (docs/metrics.md) computes the four keys from. Events
sent before these fields existed still parse; they simply count for less.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
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


# Workflows that are a release of their own: the train's chunk Workflows report too, but a
# chunk is a part of its deployer's run, not a deployment
UNIFIED_RELEASE = "unified-release"
RELEASE_TRAIN = "release-train"
RELEASE_TEMPLATES = (UNIFIED_RELEASE, RELEASE_TRAIN)
DRIFT_CHECK = "drift-check"
"""The scheduled drift check: its events mark a card, they are no release of their own."""
LANE_DELIVERY_TASKS = {
    Lane.BACKEND: "backend-rollout",
    Lane.PWA: "pwa-canary",
    Lane.ANDROID: "android-publish",
}
"""The unified release's task whose success means the lane's change is out and checked (the
PWA's: the canary after the publish)."""
RUN_TASK = "workflow"
"""The ``task`` of a run's own exit event (the workflow's ``onExit``)."""
TERMINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.ERROR, Phase.SKIPPED, Phase.OMITTED})
# SQS group and deduplication ids take printable ASCII without spaces
ENV_NAME = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[!-~]+$")]


def is_env_name(value: str) -> bool:
    """Whether ``value`` can be an event's environment (what a report may be asked for)."""
    try:
        TypeAdapter(ENV_NAME).validate_python(value)
    except ValidationError:
        return False
    return True


class PipelineEvent(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)
    # SQS group and deduplication ids take printable ASCII without spaces
    feature: str = Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")
    env: ENV_NAME
    lane: Lane
    phase: Phase
    workflow_uid: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")
    task: str = Field(min_length=1, max_length=256, pattern=r"^[!-~]+$")
    # with its zone: a zone-less time cannot be ordered against the lane's other events
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    started: AwareDatetime | None = None
    """When the task started (its last attempt, if retried); for a run's own event, when the
    run was created."""
    template: str | None = Field(default=None, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")
    """The WorkflowTemplate the run was submitted from."""
    commit: str | None = Field(default=None, max_length=255, pattern=r"^[A-Za-z0-9._/-]+$")
    """The commit the run delivers: its id, or the branch or tag a train was started at by
    hand (a revision the git host resolves)."""
    commit_time: AwareDatetime | None = None
    """When that commit was made (its committer time): where lead time starts."""
    repository: str | None = Field(
        default=None, max_length=256, pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
    )
    """The commit's repository as its host names it: ``owner/name`` on GitHub."""
    rolled_back: bool = False
    """The lane's release was undone (the rollback task succeeded): a failed change."""

    @field_validator("repository", "commit")
    @classmethod
    def _no_dot_segments(cls, value: str | None) -> str | None:
        # they become a path on the git host's API: ../ must not climb out of /repos
        if value is not None and {".", "..", ""} & set(value.split("/")):
            raise ValueError("has an empty, . or .. segment")
        return value

    @field_validator("commit")
    @classmethod
    def _ids_in_lowercase(cls, value: str | None) -> str | None:
        # one commit, one spelling: GitHub sends ids in lowercase, a person may not
        if value is not None and re.fullmatch(r"[0-9A-Fa-f]{7,64}", value):
            return value.lower()
        return value

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

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
        MessageBody=event.model_dump_json(by_alias=True, exclude_none=True),
        MessageGroupId=event.feature,
        MessageDeduplicationId=event.deduplication_id,
    )
    return result["MessageId"]
