"""The delivery figures as CloudWatch metrics: what the release dashboard draws.

One namespace, dimensions ``Env`` and ``Lane`` (``all``, backend, pwa, android). The stack's
dashboard and the IAM condition on ``cloudwatch:namespace`` import these names: the figures a
report puts are the figures the dashboard asks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from railyard_runtime.report.dora import Report

NAMESPACE = "Railyard/Delivery"
DIMENSIONS = ("Env", "Lane")
# metric name -> (unit, what it reads from a report)
KEYS: dict[str, tuple[str, str]] = {
    "Deployments": ("Count", "deployments"),
    "DeploymentsPerDay": ("None", "deployments_per_day"),
    "LeadTimeP50": ("Seconds", "lead_time_p50"),
    "LeadTimeP90": ("Seconds", "lead_time_p90"),
    "ChangeFailureRate": ("None", "change_failure_rate"),
    "FailedChanges": ("Count", "failed_changes"),
    "TimeToRestoreP50": ("Seconds", "time_to_restore_p50"),
    "Unrestored": ("Count", "unrestored"),
    "DurationP50": ("Seconds", "duration_p50"),
    "InProgress": ("Count", "in_progress"),
}
BRIDGE_ERRORS = "BridgeErrors"
"""Put by the bridge, dimension ``Kind``: a ``BridgeError``."""


class BridgeError(StrEnum):
    POISON = "poison"
    """Not an event, or could not be applied: dead-lettered."""
    BOARD_UNAVAILABLE = "board-unavailable"
    BOARD_REJECTED = "board-rejected"
    STORE = "store"
    """The card store or the history did not answer: retried."""


PWA_TIMINGS = ("PwaLcpMs", "PwaCls", "PwaLoadMs")
"""Put by the PWA canary each run, dimension ``Env``: what its gate judged."""
DRIFT = "Drift"
"""Put by the drift check, dimensions ``Env`` and ``Target``: 1 differs, 0 matches."""
DRIFT_TARGETS = ("backend", "pwa", "android")
BATCH = 150  # PutMetricData takes up to 1,000 values a call; a few calls keep each one small


def datum(name: str, dimensions: Mapping[str, str], at: datetime, value: float, unit: str) -> dict:
    """One value as PutMetricData takes it; dimensions in the order given."""
    return {
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Timestamp": at,
        "Value": float(value),
        "Unit": unit,
    }


def metric_data(reports: Iterable[Report], at: datetime) -> list[dict]:
    """A value per key and report; a key a window has no samples for is left out (an empty
    window is no data, not a zero)."""
    return [
        datum(name, {"Env": report.env, "Lane": report.lane}, at, value, unit)
        for report in reports
        for name, (unit, attribute) in KEYS.items()
        if (value := getattr(report, attribute)) is not None
    ]


def put(cloudwatch, data: list[dict]) -> int:
    for start in range(0, len(data), BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + BATCH])
    return len(data)
