"""One card per feature, a state per lane, and the board column that follows from them.

Pure logic: what an event does to a card. An event applies only if it is newer than what the
card holds for its lane — later ``time`` first, then a later phase (Running after Pending, an
end after Running) — so duplicates and stale, reordered deliveries change nothing. The column
is a function of the lane states alone, so every consumer computes the same one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from railyard_runtime import safe_yaml
from railyard_runtime.events import Lane, Phase, PipelineEvent

PHASE_RANK = {
    Phase.PENDING: 0,
    Phase.RUNNING: 1,
    Phase.SUCCEEDED: 2,
    Phase.FAILED: 2,
    Phase.ERROR: 2,
    Phase.SKIPPED: 2,
    Phase.OMITTED: 2,
}


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class LaneState(_Model):
    phase: Phase
    time: datetime
    workflow_uid: str
    task: str
    event_id: str
    env: str

    @field_validator("time")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        # cards stored before events had to carry a zone may hold a zone-less time; read as
        # UTC, the lane stays comparable with the events that come after it
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def order(self) -> tuple[datetime, int]:
        return (self.time, PHASE_RANK[self.phase])


class Card(_Model):
    feature: str
    lanes: dict[Lane, LaneState] = {}
    version: int = 0
    """Bumped by every write; writes are conditional on the version read."""
    board_column: str | None = None
    """The column the board is known to show (set after a successful move)."""
    board_moves: int = 0
    """Moves recorded so far; with the column it names a move the same way on every retry."""

    def move_id(self, column: str) -> str:
        """Stable across consumers and crashes: a consumer killed after moving the board but
        before recording it leaves ``board_moves`` as it was, so the repeat has the same id."""
        return f"{self.feature}/{self.board_moves}/{column}"


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"


def apply(card: Card, event: PipelineEvent) -> tuple[Card, Outcome]:
    """The card after ``event``; unchanged (same version) when the event is not newer."""
    state = LaneState(
        phase=event.phase,
        time=event.time,
        workflow_uid=event.workflow_uid,
        task=event.task,
        event_id=event.deduplication_id,
        env=event.env,
    )
    held = card.lanes.get(event.lane)
    if held is not None:
        if held.event_id == state.event_id:
            return card, Outcome.DUPLICATE
        if state.order() <= held.order():
            return card, Outcome.STALE
    lanes = {**card.lanes, event.lane: state}
    return card.model_copy(update={"lanes": lanes, "version": card.version + 1}), Outcome.APPLIED


class _RulesModel(_Model):
    # written by hand in a rules file: a misspelt key must fail, not widen a rule
    model_config = ConfigDict(**_Model.model_config, extra="forbid")


class Rule(_RulesModel):
    """``lane`` (None: any) at one of ``phases``, reported by one of ``tasks`` (None: any),
    puts the card in ``column``."""

    column: str
    lane: Lane | None = None
    phases: list[Phase] = Field(min_length=1)
    tasks: list[str] | None = None


class ColumnRules(_RulesModel):
    """Board columns in order, left to right, and what puts a card in each.

    A card shows the rightmost column any of its lanes reaches; a ``blocking`` rule (a failed
    lane) wins over progress, so a failure is never hidden by another lane's success.
    """

    columns: list[str] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    blocking: list[Rule] = []

    @model_validator(mode="after")
    def _known_columns(self) -> ColumnRules:
        unknown = {r.column for r in (*self.rules, *self.blocking)} - set(self.columns)
        if unknown:
            raise ValueError(f"rules name columns not in `columns`: {sorted(unknown)}")
        return self

    def column(self, card: Card) -> str | None:
        for rule in self.blocking:
            if _matches(rule, card.lanes):
                return rule.column
        reached = [self.columns.index(r.column) for r in self.rules if _matches(r, card.lanes)]
        return self.columns[max(reached)] if reached else None


# A rules file is a page of YAML: far smaller than the loader's defaults.
RULES_LIMITS = safe_yaml.Limits(max_bytes=256 * 1024, max_depth=16, max_nodes=10_000)


def load_rules(path: Path) -> ColumnRules:
    """Column rules from a YAML (or JSON) file; ``ValueError`` names every bad field."""
    try:
        document = safe_yaml.load(path, RULES_LIMITS)
    except OSError as e:
        raise ValueError(f"cannot read {path} ({e.strerror})") from None
    except safe_yaml.YamlError as e:  # not a regular file, too big or deep, not UTF-8 ...
        raise ValueError(e.message) from None
    try:
        return ColumnRules.model_validate(document)
    except ValidationError as e:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}"
            for err in e.errors()
        )
        raise ValueError(f"{path}: {fields}") from None


def _matches(rule: Rule, lanes: Mapping[Lane, LaneState]) -> bool:
    names: Sequence[Lane] = [rule.lane] if rule.lane else list(lanes)
    return any(
        lane in lanes
        and lanes[lane].phase in rule.phases
        and (rule.tasks is None or lanes[lane].task in rule.tasks)
        for lane in names
    )


def columns_through(feature: str, events: Sequence[PipelineEvent], rules: ColumnRules) -> list[str]:
    """The columns a card passes through, once per change, when ``events`` arrive in this
    order: what the board must show. The bridge's tests and bench hold it to this."""
    card, columns = Card(feature=feature), []
    for event in events:
        card, _ = apply(card, event)
        column = rules.column(card)
        if column and (not columns or columns[-1] != column):
            columns.append(column)
    return columns


_ANY = [Phase.PENDING, Phase.RUNNING, Phase.SUCCEEDED]
# The unified release's tasks (railyard.release_templates.unified) in board columns.
DEFAULT_RULES = ColumnRules(
    columns=["In release", "Backend live", "PWA live", "Android released", "Blocked"],
    rules=[
        Rule(column="In release", phases=_ANY),
        Rule(
            column="Backend live",
            lane=Lane.BACKEND,
            phases=[Phase.SUCCEEDED],
            tasks=["backend-rollout"],
        ),
        Rule(column="PWA live", lane=Lane.PWA, phases=[Phase.SUCCEEDED], tasks=["pwa-verify"]),
        Rule(
            column="Android released",
            lane=Lane.ANDROID,
            phases=[Phase.SUCCEEDED],
            tasks=["android-publish"],
        ),
    ],
    blocking=[
        Rule(column="Blocked", phases=[Phase.FAILED, Phase.ERROR]),
        Rule(
            column="Blocked",
            lane=Lane.BACKEND,
            phases=[Phase.SUCCEEDED],
            tasks=["backend-rollback"],
        ),  # rolled back: the release did not land
    ],
)


# A unified release on the happy path as (lane, task, phase), in the order the events come:
# what DEFAULT_RULES is written for.
_HAPPY_PATH = (
    (Lane.RELEASE, "scan-images", Phase.SUCCEEDED),
    (Lane.BACKEND, "backend-apply", Phase.SUCCEEDED),
    (Lane.ANDROID, "android-build", Phase.RUNNING),
    (Lane.PWA, "pwa-publish", Phase.SUCCEEDED),
    (Lane.BACKEND, "backend-rollout", Phase.SUCCEEDED),
    (Lane.PWA, "pwa-verify", Phase.SUCCEEDED),
    (Lane.ANDROID, "android-build", Phase.SUCCEEDED),
    (Lane.ANDROID, "android-publish", Phase.SUCCEEDED),
    (Lane.RELEASE, "workflow", Phase.SUCCEEDED),
)


def happy_path(
    feature: str, env: str, workflow_uid: str, start: datetime, every: timedelta
) -> list[PipelineEvent]:
    """One unified release's events on the happy path, ``every`` apart from ``start``: what
    the bridge's tests and bench replay."""
    return [
        PipelineEvent(
            feature=feature,
            env=env,
            lane=lane,
            phase=phase,
            workflow_uid=workflow_uid,
            task=task,
            time=start + i * every,
        )
        for i, (lane, task, phase) in enumerate(_HAPPY_PATH)
    ]
