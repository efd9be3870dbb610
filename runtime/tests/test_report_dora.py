"""The four keys on event histories whose answers were worked out by hand (in the comments)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from railyard_runtime.events import PipelineEvent
from railyard_runtime.report import dora, metrics

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 8, tzinfo=UTC)  # 7 days


def at(day: int, hour: float) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC) + timedelta(hours=hour)


def event(uid, task, phase, time, **extra) -> PipelineEvent:
    fields = {
        "feature": "PAY-1",
        "env": "prod",
        "lane": "release",
        "phase": phase,
        "workflow_uid": uid,
        "task": task,
        "time": time,
        "template": "unified-release",
    }
    return PipelineEvent(**(fields | extra))


def release(uid, end, phase="Succeeded", commit=None, committed=None, started=None, **extra):
    """A run's own final event (what the workflow's onExit sends)."""
    change = {"commit": commit, "commit_time": committed, "repository": "acme/app"}
    return event(uid, "workflow", phase, end, started=started, **change, **extra)


def history() -> list[PipelineEvent]:
    c = {n: f"{n:x}" * 40 for n in range(1, 10)}  # commits 111…, 222…, …
    return [
        # r1: committed 09:00, delivered 10:30 -> lead 5400 s; started 10:00 -> took 1800 s
        release("r1", at(1, 10.5), commit=c[1], committed=at(1, 9), started=at(1, 10)),
        # a duplicate of r1's end, sent later by a retried hook: the first word stands
        release("r1", at(1, 11), commit=c[1], committed=at(1, 9), started=at(1, 10)),
        # r2 fails at 11-02 10:00: backend rollout failed and was rolled back
        event("r2", "backend-rollout", "Failed", at(2, 9.5), lane="backend"),
        event("r2", "backend-rollback", "Succeeded", at(2, 9.8), lane="backend", rolled_back=True),
        release("r2", at(2, 10), "Failed", commit=c[2], committed=at(2, 8)),
        # r3: committed 11:00, delivered 12:00 -> lead 3600; restores r2 -> 7200
        event("r3", "backend-rollout", "Succeeded", at(2, 11.5), lane="backend"),
        release("r3", at(2, 12), commit=c[3], committed=at(2, 11), started=at(2, 11)),
        # r4 re-runs c1: a deployment, not a second lead time
        release("r4", at(3, 9), commit=c[1], committed=at(1, 9)),
        # r5 fails 01:00, r6 errors 02:00, r7 delivers 05:00 (committed 02:30 -> lead 9000):
        # one outage, restored after 14400 s
        release("r5", at(4, 1), "Failed", commit=c[5], committed=at(4, 0)),
        release("r6", at(4, 2), "Error", commit=c[6], committed=at(4, 0.5)),
        release("r7", at(4, 5), commit=c[7], committed=at(4, 2.5)),
        # r8 ended Succeeded but rolled a lane back: a failed change; r9 fails; nothing after
        event("r8", "backend-rollback", "Succeeded", at(5, 11), lane="backend", rolled_back=True),
        release("r8", at(5, 12), commit=c[8], committed=at(5, 10)),
        release("r9", at(6, 0), "Failed", commit=c[9], committed=at(5, 23)),
        # still going: only a task event
        event("r10", "scan-images", "Succeeded", at(6, 5)),
        # a train's chunk Workflow and another environment: not this env's releases
        release("r11", at(6, 6), template="release-train-chunk"),
        release("r12", at(6, 7), env="dev"),
        # ends exactly at --until: outside [since, until)
        release("r13", UNTIL, commit=c[4], committed=at(7, 1)),
    ]


def test_the_four_keys_of_a_week():
    got = dora.report(history(), "prod", SINCE, UNTIL)

    assert got.finished == 9 and got.in_progress == 1
    assert got.deployments == 5  # r1, r3, r4, r7 and r8: it ended Succeeded
    assert got.deployments_per_day == round(5 / 7, 4)
    assert (got.lead_time_p50, got.lead_time_p90, got.lead_time_samples) == (5400, 9000, 3)
    assert got.failed_changes == 5  # r2, r5, r6, r8 (rolled back), r9
    assert got.change_failure_rate == round(5 / 9, 4)  # over all 9 finished runs
    assert (got.time_to_restore_p50, got.time_to_restore_samples) == (7200, 2)
    assert got.unrestored == 1  # r8 + r9 wait for a success
    assert got.duration_p50 == 1800  # r1 1800, r3 3600: nearest rank of two is the first


def test_order_and_duplicates_do_not_change_the_answer():
    events = history()
    expected = dora.report(events, "prod", SINCE, UNTIL)
    for seed in range(5):
        shuffled = events + random.Random(seed).sample(events, k=len(events))
        random.Random(seed).shuffle(shuffled)
        assert dora.report(shuffled, "prod", SINCE, UNTIL) == expected


def test_a_lane_has_its_own_keys():
    # backend: r2 failed (rolled back) at 9.8h, r3 delivered at 11.5h, r8 rolled back
    got = dora.report(history(), "prod", SINCE, UNTIL, lane="backend")

    assert (got.deployments, got.failed_changes, got.finished) == (1, 2, 3)
    assert got.time_to_restore_p50 == pytest.approx(1.7 * 3600)
    assert got.unrestored == 1
    assert got.lead_time_samples == 1 and got.lead_time_p50 == pytest.approx(0.5 * 3600)


def test_a_lane_that_did_not_get_that_far_counts_for_nothing():
    events = [
        event("a", "android-build", "Succeeded", at(2, 1), lane="android"),
        release("a", at(2, 2), "Failed"),  # android-publish never ran
    ]
    android = dora.report(events, "prod", SINCE, UNTIL, lane="android")
    assert (android.finished, android.deployments, android.failed_changes) == (0, 0, 0)
    assert android.change_failure_rate is None


def test_events_from_before_runs_were_named_still_count():
    old = PipelineEvent.model_validate_json(
        '{"feature":"PAY-1","env":"prod","lane":"release","phase":"Succeeded",'
        '"workflowUid":"old","task":"workflow","time":"2026-11-02T10:00:00Z"}'
    )
    got = dora.report([old], "prod", SINCE, UNTIL)
    assert (got.deployments, got.lead_time_samples, got.lead_time_p50) == (1, 0, None)


def test_a_commit_time_after_its_delivery_gives_no_lead_time():
    skewed = release("s", at(2, 1), commit="ab" * 20, committed=at(2, 2))
    assert dora.report([skewed], "prod", SINCE, UNTIL).lead_time_samples == 0


def test_an_empty_window_has_no_rates():
    got = dora.report([], "prod", SINCE, UNTIL)
    assert (got.deployments, got.change_failure_rate, got.time_to_restore_p50) == (0, None, None)
    assert got.as_json()["leadTimeSeconds"] == {"p50": None, "p90": None, "samples": 0}


@pytest.mark.parametrize(
    ("since", "until", "lane", "message"),
    [
        (SINCE.replace(tzinfo=None), UNTIL, "all", "need a time zone"),
        (UNTIL, SINCE, "all", "until must be after since"),
        (SINCE, UNTIL, "ios", "lane 'ios': use all or one of backend, pwa, android"),
    ],
)
def test_a_window_or_lane_that_cannot_be_read_is_refused(since, until, lane, message):
    with pytest.raises(ValueError, match=message):
        dora.report([], "prod", since, until, lane=lane)


@pytest.mark.parametrize(("p", "expected"), [(50, 2), (90, 4), (100, 4), (1, 1)])
def test_percentiles_are_nearest_rank(p, expected):
    assert dora.percentile([4, 1, 3, 2], p) == expected


def test_failures_in_a_row_are_one_outage_timed_from_the_first():
    events = [
        release("a", at(2, 1)),
        release("b", at(2, 2), "Failed"),  # the outage starts here
        release("c", at(2, 3), "Error"),
        release("d", at(2, 6)),  # and ends here: 4 h, not 3 h from the last failure
    ]
    got = dora.report(events, "prod", SINCE, UNTIL)
    assert (got.time_to_restore_p50, got.time_to_restore_samples) == (4 * 3600, 1)
    assert (got.failed_changes, got.deployments, got.unrestored) == (2, 2, 0)


def test_each_key_is_put_with_its_unit_and_a_key_without_samples_not_at_all():
    week = dora.report(history(), "prod", SINCE, UNTIL)
    empty = dora.report([], "prod", SINCE, UNTIL, "android")
    data = metrics.metric_data([week, empty], UNTIL)

    put = {(d["MetricName"], d["Dimensions"][1]["Value"]): d for d in data}
    assert put[("LeadTimeP90", "all")] == {
        "MetricName": "LeadTimeP90",
        "Dimensions": [{"Name": "Env", "Value": "prod"}, {"Name": "Lane", "Value": "all"}],
        "Timestamp": UNTIL,
        "Value": 9000.0,
        "Unit": "Seconds",
    }
    assert {(name, d["Unit"]) for (name, lane), d in put.items() if lane == "all"} == {
        (name, unit) for name, (unit, _) in metrics.KEYS.items()
    }
    # an empty window: counts of zero, no rates, percentiles or durations
    assert sorted(name for name, lane in put if lane == "android") == [
        "Deployments", "DeploymentsPerDay", "FailedChanges", "InProgress", "Unrestored",
    ]  # fmt: skip
