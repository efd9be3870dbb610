"""The release dashboard's body: CloudWatch widgets over the delivery metrics (pure).

Top to bottom: the four keys of the environment (last value of the hourly report), the same
per lane over time, release durations per lane, the event feed's health (queue lag, DLQ
depth, bridge errors), and the live PWA (canary success, its timings) with drift per target.
Every metric name and dimension comes from ``railyard_runtime.report.metrics``: the names the
reports and the bridge put are the names drawn here.
"""

from __future__ import annotations

from dataclasses import dataclass

from railyard_runtime.report import metrics as m
from railyard_runtime.report.dora import ALL_LANES, LANES

HOUR, FIVE_MINUTES = 3600, 300
WIDTH = 24  # CloudWatch's grid


@dataclass(frozen=True)
class DashboardTargets:
    env: str
    region: str
    queue_name: str
    dlq_name: str
    canary_name: str


def _metric(t: DashboardTargets, title: str, rows: list[list], y: int, x: int, **props) -> dict:
    width = props.pop("width", 8)
    height = props.pop("height", 6)
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "properties": {
            "title": title,
            "region": t.region,
            "metrics": rows,
            "view": props.pop("view", "timeSeries"),
            "stat": props.pop("stat", "Average"),
            "period": props.pop("period", HOUR),
            **props,
        },
    }


def _sqs(queue: str, metric: str) -> list:
    return ["AWS/SQS", metric, "QueueName", queue]


def _key(t: DashboardTargets, name: str, lane: str, label: str) -> list:
    return [m.NAMESPACE, name, "Env", t.env, "Lane", lane, {"label": label}]


def dashboard_body(t: DashboardTargets) -> dict:
    keys = (
        ("DeploymentsPerDay", "Deployments per day"),
        ("LeadTimeP50", "Lead time p50 (s)"),
        ("ChangeFailureRate", "Change failure rate"),
        ("TimeToRestoreP50", "Time to restore p50 (s)"),
    )
    widgets: list[dict] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": WIDTH,
            "height": 2,
            "properties": {
                "markdown": f"## Delivery of {t.env}\n"
                "The four keys over the last 30 days (hourly, from the pipeline's own events), "
                "the event feed's health, the live PWA and drift from the last release."
            },
        },
    ]
    for i, (name, label) in enumerate(keys):
        rows = [_key(t, name, ALL_LANES, label)]
        single = {"width": 6, "height": 4, "view": "singleValue", "stat": "Maximum"}
        widgets.append(_metric(t, label, rows, y=2, x=6 * i, **single))
    per_lane = (
        ("LeadTimeP50", "Lead time p50 by lane (s)"),
        ("ChangeFailureRate", "Change failure rate by lane"),
        ("DeploymentsPerDay", "Deployments per day by lane"),
        ("TimeToRestoreP50", "Time to restore p50 by lane (s)"),
        ("DurationP50", "Release duration p50 by lane: start to the lane's end (s)"),
    )
    for i, (name, title) in enumerate(per_lane):
        rows = [_key(t, name, lane, lane) for lane in LANES]
        wide = i == len(per_lane) - 1  # the last one alone on its row
        widgets.append(
            _metric(t, title, rows, y=6 + 6 * (i // 2), x=12 * (i % 2), width=WIDTH if wide else 12)
        )
    y = 24
    widgets += [
        _metric(
            t, "Event queue: age of the oldest message (s)",
            [[*_sqs(t.queue_name, "ApproximateAgeOfOldestMessage"), {"label": "events"}]],
            y=y, x=0, stat="Maximum", period=FIVE_MINUTES,
        ),
        _metric(
            t, "Dead-letter queue depth",
            [[*_sqs(t.dlq_name, "ApproximateNumberOfMessagesVisible"), {"label": "dead letters"}]],
            y=y, x=8, stat="Maximum", period=FIVE_MINUTES,
        ),
        _metric(
            t, "Bridge errors",
            [
                [m.NAMESPACE, m.BRIDGE_ERRORS, "Kind", kind.value, {"label": kind.value}]
                for kind in m.BridgeError
            ],
            y=y, x=16, stat="Sum", period=FIVE_MINUTES,
        ),
        _metric(
            t, "PWA canary: runs passed (%)",
            [
                [
                    "CloudWatchSynthetics", "SuccessPercent", "CanaryName", t.canary_name,
                    {"label": "runs passed"},
                ]
            ],
            y=y + 6, x=0, period=FIVE_MINUTES,
        ),
        _metric(
            t, "PWA timings (ms; CLS on the right)",
            [
                [m.NAMESPACE, name, "Env", t.env, {"label": label, **axis}]
                for name, label, axis in zip(
                    m.PWA_TIMINGS, ("LCP", "CLS", "load"), ({}, {"yAxis": "right"}, {}),
                    strict=True,
                )
            ],
            y=y + 6, x=8, period=FIVE_MINUTES,
        ),
        _metric(
            t, "Drift from the last release (1: differs)",
            [
                [m.NAMESPACE, m.DRIFT, "Env", t.env, "Target", target, {"label": target}]
                for target in m.DRIFT_TARGETS
            ],
            y=y + 6, x=16, stat="Maximum", period=1800,
        ),
    ]  # fmt: skip
    return {"start": "-P7D", "periodOverride": "inherit", "widgets": widgets}
