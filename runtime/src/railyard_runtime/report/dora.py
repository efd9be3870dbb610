"""The four keys of delivery (DORA) from pipeline events: pure logic, no clouds.

Events are folded into runs (one per ``workflowUid``), each with a final status, the change it
delivered and the outcome of each lane. The rules for what counts (docs/metrics.md):

- a run counts once it has ended: its own event (task ``workflow``) with a final phase; runs
  still going are reported as ``inProgress`` and count for nothing else;
- only releases count: ``unified-release`` and ``release-train`` runs (a train's chunk
  Workflows are parts of their deployer's run); events from before runs were named count too;
- duplicates (same run, task and phase) count once, whatever order events arrive in;
- a run (or lane) is a *deployment* when it ended Succeeded; it is a *failed change* when it
  ended Failed or Error, or rolled a lane back (a run can be both); it *delivered* its change
  when it was a deployment and rolled nothing back;
- a run belongs to the window when it ended in ``[since, until)``;
- change failure rate: failed changes over all runs that ended in the window;
- lead time: commit time → end of the first run that delivered that commit (a later run of
  the same commit is a deployment, not a second lead time);
- time to restore: from the end of the first failed change after a delivery to the end of the
  next run that delivered in that environment; a failure not yet followed by one is
  ``unrestored``;
- percentiles are nearest-rank: the smallest sample with at least p% of samples at or below it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from railyard_runtime.events import (
    LANE_DELIVERY_TASKS,
    RELEASE_TEMPLATES,
    RUN_TASK,
    TERMINAL,
    Lane,
    Phase,
    PipelineEvent,
)

ALL_LANES = "all"
"""The whole run, gates included: what ``--lane`` defaults to."""
LANES = (ALL_LANES, *(lane.value for lane in LANE_DELIVERY_TASKS))
"""What a report can be about: the whole run, or one lane that delivers."""
FAILED = (Phase.FAILED, Phase.ERROR)
END_PHASES = tuple(p for p in Phase if p in TERMINAL)  # in Phase order: a fixed one


@dataclass(frozen=True)
class Outcome:
    """How a run (or one of its lanes) ended."""

    end: datetime
    phase: Phase
    rolled_back: bool

    @property
    def deployed(self) -> bool:
        """Ended Succeeded: a deployment, even one that rolled a lane back on its way."""
        return self.phase is Phase.SUCCEEDED

    @property
    def delivered(self) -> bool:
        """Deployed and nothing undone: the change is out (lead time ends, an outage too)."""
        return self.deployed and not self.rolled_back

    @property
    def failed(self) -> bool:
        return self.phase in FAILED or self.rolled_back


@dataclass
class Run:
    uid: str
    env: str
    template: str | None = None
    started: datetime | None = None
    commit: str | None = None
    commit_time: datetime | None = None
    repository: str | None = None
    events: dict[tuple[str, Phase], PipelineEvent] = field(default_factory=dict)
    rolled_back: bool = False
    """Some event of the run rolled a lane back."""

    def add(self, event: PipelineEvent) -> None:
        key = (event.task, event.phase)
        known = self.events.get(key)
        if known is None or event.time < known.time:  # a duplicate: the first word stands
            self.events[key] = event
        self.rolled_back = self.rolled_back or event.rolled_back
        self.template = self.template or event.template
        self.started = self.started or (event.started if event.task == RUN_TASK else None)
        self.commit = self.commit or event.commit
        self.commit_time = self.commit_time or event.commit_time
        self.repository = self.repository or event.repository

    @property
    def is_release(self) -> bool:
        return self.template is None or self.template in RELEASE_TEMPLATES

    def outcome(self, lane: str = ALL_LANES) -> Outcome | None:
        """How the run ended (its own event), or one lane: failed if any of its tasks failed
        or rolled back, deployed once its delivering task succeeded; None while the run is
        going, or when the lane neither delivered nor failed (it did not get that far)."""
        ends = [e for p in END_PHASES if (e := self.events.get((RUN_TASK, p))) is not None]
        if not ends:
            return None
        if lane == ALL_LANES:
            last = max(ends, key=lambda e: e.time)
            return Outcome(last.time, last.phase, self.rolled_back)
        tasks = [e for (task, _), e in self.events.items() if task != RUN_TASK and e.lane == lane]
        broken = [e for e in tasks if e.phase in FAILED or e.rolled_back]
        if broken:
            last = max(broken, key=lambda e: e.time)
            return Outcome(last.time, Phase.FAILED, any(e.rolled_back for e in broken))
        delivered = self.events.get((LANE_DELIVERY_TASKS[Lane(lane)], Phase.SUCCEEDED))
        return Outcome(delivered.time, Phase.SUCCEEDED, False) if delivered else None


def runs(events: Iterable[PipelineEvent], env: str) -> list[Run]:
    """The release runs of ``env``, each with every event it sent (duplicates folded)."""
    found: dict[str, Run] = {}
    for event in events:
        if event.env != env:
            continue
        found.setdefault(event.workflow_uid, Run(uid=event.workflow_uid, env=env)).add(event)
    return [run for run in found.values() if run.is_release]


def check_lane(lane: str) -> str:
    if lane not in LANES:
        raise ValueError(f"lane {lane!r}: use {ALL_LANES} or one of {', '.join(LANES[1:])}")
    return lane


def percentile(samples: list[float], p: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Report:
    env: str
    lane: str
    since: datetime
    until: datetime
    finished: int
    in_progress: int
    deployments: int
    deployments_per_day: float
    lead_time_p50: float | None
    lead_time_p90: float | None
    lead_time_samples: int
    failed_changes: int
    change_failure_rate: float | None
    time_to_restore_p50: float | None
    time_to_restore_samples: int
    unrestored: int
    duration_p50: float | None
    """Run start → the run's (or lane's) end, over the window's finished runs."""

    def as_json(self) -> dict:
        return {
            "env": self.env,
            "lane": self.lane,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "runs": {"finished": self.finished, "inProgress": self.in_progress},
            "deployments": self.deployments,
            "deploymentsPerDay": self.deployments_per_day,
            "leadTimeSeconds": {
                "p50": self.lead_time_p50,
                "p90": self.lead_time_p90,
                "samples": self.lead_time_samples,
            },
            "changeFailureRate": self.change_failure_rate,
            "failedChanges": self.failed_changes,
            "timeToRestoreSeconds": {
                "p50": self.time_to_restore_p50,
                "samples": self.time_to_restore_samples,
                "unrestored": self.unrestored,
            },
            "durationSeconds": {"p50": self.duration_p50},
        }


def report(
    events: Iterable[PipelineEvent],
    env: str,
    since: datetime,
    until: datetime,
    lane: str = ALL_LANES,
) -> Report:
    """The four keys of ``env`` (and ``lane``) for runs that ended in ``[since, until)``."""
    return report_runs(runs(events, env), env, since, until, lane)


def report_runs(
    all_runs: list[Run], env: str, since: datetime, until: datetime, lane: str = ALL_LANES
) -> Report:
    """``report`` of runs already folded (``runs``): one fold serves every lane."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until need a time zone")
    if until <= since:
        raise ValueError("until must be after since")
    check_lane(lane)
    ended = sorted(
        ((run, outcome) for run in all_runs if (outcome := run.outcome(lane)) is not None),
        key=lambda pair: (pair[1].end, pair[0].uid),
    )
    in_window = [(r, o) for r, o in ended if since <= o.end < until]
    in_progress = sum(1 for run in all_runs if run.outcome() is None)
    deployed = [(r, o) for r, o in in_window if o.deployed]
    failed = [(r, o) for r, o in in_window if o.failed]
    lead_times = _lead_times(ended, since, until)
    restores, unrestored = _restores(in_window)
    durations = [
        (o.end - r.started).total_seconds()
        for r, o in in_window
        if r.started and o.end >= r.started
    ]
    return Report(
        env=env,
        lane=lane,
        since=since,
        until=until,
        finished=len(in_window),
        in_progress=in_progress,
        deployments=len(deployed),
        deployments_per_day=round(len(deployed) / ((until - since) / timedelta(days=1)), 4),
        lead_time_p50=percentile(lead_times, 50),
        lead_time_p90=percentile(lead_times, 90),
        lead_time_samples=len(lead_times),
        failed_changes=len(failed),
        change_failure_rate=round(len(failed) / len(in_window), 4) if in_window else None,
        time_to_restore_p50=percentile(restores, 50),
        time_to_restore_samples=len(restores),
        unrestored=unrestored,
        duration_p50=percentile(durations, 50),
    )


def _lead_times(ended: list[tuple[Run, Outcome]], since: datetime, until: datetime) -> list[float]:
    """Per commit, its first successful delivery (among every run read) if that fell in the
    window; a commit time after the delivery (a skewed clock) gives no sample."""
    first: dict[tuple[str | None, str], tuple[Run, Outcome]] = {}
    for run, outcome in ended:  # in order of their end
        if outcome.delivered and run.commit:
            first.setdefault((run.repository, run.commit), (run, outcome))
    return [
        (o.end - r.commit_time).total_seconds()
        for r, o in first.values()
        if r.commit_time and since <= o.end < until and o.end >= r.commit_time
    ]


def _restores(in_window: list[tuple[Run, Outcome]]) -> tuple[list[float], int]:
    samples, broken_since = [], None
    for _, outcome in in_window:
        if outcome.failed:
            broken_since = broken_since or outcome.end
        elif outcome.delivered and broken_since is not None:
            samples.append((outcome.end - broken_since).total_seconds())
            broken_since = None
    return samples, int(broken_since is not None)
