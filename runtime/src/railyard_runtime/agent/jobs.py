"""Build jobs and their states, shared by the agent and the CLI that talks to it."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """The host stopped (drain, spot reclaim) before the job finished: submit it again."""

    @property
    def is_final(self) -> bool:
        return self in (State.SUCCEEDED, State.FAILED, State.INTERRUPTED)


ACTIVE = (State.QUEUED, State.RUNNING)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class BuildRequest(_Model):
    model_config = ConfigDict(extra="forbid")
    commit: str

    @field_validator("commit")
    @classmethod
    def _is_a_sha(cls, value: str) -> str:
        value = value.strip().lower()
        if not COMMIT.match(value):
            raise ValueError("must be a git commit SHA: 7 to 40 hexadecimal characters")
        return value


class Job(_Model):
    id: str
    commit: str
    state: State
    attempts: int
    host: str
    """The agent that owns the job: follow it there (``GET {host}/builds/{id}``)."""
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    artifact_url: str | None = None
    error: str | None = None
    log_tail: list[str] = []
