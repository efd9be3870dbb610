"""Drift: what runs, against what the last successful release says should run.

The last successful release is the latest unified release of the environment that ended
Succeeded and rolled nothing back (its commit is what every lane should run). Three checks,
each giving one ``Finding`` and each independent of the others:

- backend: for each ECR repository the release scans (``backend/api``), the digest of the
  image tagged with the commit must be the digest every running pod of the backend workload
  runs for that repository (each container status's ``imageID``); a pod running another
  digest, or no running pod at all, is drift;
- pwa: one pass of ``pwa verify``'s comparison, read only: the live release of every target
  must be the commit and every CDN must serve its entrypoints' bytes;
- android: ``releases/<env>/latest.json`` in the APK bucket must name the commit.

A check raises what stops it (an API out of reach, a missing bucket, settings missing);
``guarded``, around the check and the building of its clients, turns that into a finding with
``ok`` and ``checked`` false and a detail saying so, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from railyard_runtime.apk_release import latest_key
from railyard_runtime.events import RUN_TASK, UNIFIED_RELEASE, Lane, PipelineEvent
from railyard_runtime.report.dora import Run, runs
from railyard_runtime.report.drift.android import check_android
from railyard_runtime.report.drift.backend import (
    check_backend,
    ecr_region,
    normalize_registry,
    parse_workload,
    released_digests,
)
from railyard_runtime.report.drift.findings import (
    NOT_CHECKED,
    Finding,
    TargetName,
    expectation,
    guarded,
    not_checked,
)
from railyard_runtime.report.drift.pwa import check_pwa
from railyard_runtime.report.metrics import DRIFT_TARGETS, datum

__all__ = [
    "LANES",
    "NOT_CHECKED",
    "TARGETS",
    "Finding",
    "TargetName",
    "check_android",
    "check_backend",
    "check_pwa",
    "drift_task",
    "ecr_region",
    "expectation",
    "feature_of",
    "guarded",
    "last_release",
    "latest_key",
    "metric_data",
    "normalize_registry",
    "not_checked",
    "parse_workload",
    "released_digests",
]

TARGETS = cast("tuple[TargetName, ...]", DRIFT_TARGETS)
"""The targets, in the order they are checked: the Drift metric's ``Target`` values."""
LANES: dict[str, Lane] = {target: Lane(target) for target in TARGETS}
"""The lane a target's drift is reported in: the one of the same name."""


def last_release(events: Iterable[PipelineEvent], env: str) -> Run | None:
    """The latest (by end) unified release of ``env`` that ended Succeeded without rolling
    anything back, and says which commit it delivered."""
    best: tuple | None = None
    for run in runs(events, env):
        if run.template != UNIFIED_RELEASE or not run.commit:
            continue
        outcome = run.outcome()
        if outcome is None or not outcome.delivered:
            continue
        if best is None or (outcome.end, run.uid) > best[:2]:
            best = (outcome.end, run.uid, run)
    return best[2] if best else None


def feature_of(run: Run) -> str:
    """The feature (Kanban card) of the run: what its own last event says."""
    own = [e for (task, _), e in run.events.items() if task == RUN_TASK and e.terminal]
    return max(own or run.events.values(), key=lambda e: e.time).feature


def drift_task(finding: Finding, drifted: Sequence[Finding]) -> str:
    """``drift``, or ``drift-<target>`` when several targets drifted (each its own event)."""
    return "drift" if len(drifted) <= 1 else f"drift-{finding.target}"


def metric_data(findings: Iterable[Finding], env: str, at: datetime, name: str) -> list[dict]:
    """A value per finding: 1 where it is not known to match (drift, or not checked), 0 else."""
    return [
        datum(name, {"Env": env, "Target": f.target}, at, 0.0 if f.ok else 1.0, "Count")
        for f in findings
    ]
