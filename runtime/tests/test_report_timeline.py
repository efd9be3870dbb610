"""The release timeline: bars timed from pipeline events, and their Gantt chart as SVG."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from railyard_runtime.events import Lane, Phase, PipelineEvent
from railyard_runtime.report.timeline import (
    AMBER,
    GREEN,
    GREY,
    RED,
    Bar,
    Run,
    bars,
    render_svg,
    run_summary,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(lane: Lane, task: str, phase: Phase, minutes: float, uid: str = "wf-1") -> PipelineEvent:
    return PipelineEvent(
        feature="checkout",
        env="stage-us",
        lane=lane,
        phase=phase,
        workflow_uid=uid,
        task=task,
        time=at(minutes),
    )


# a unified release: gates, then the three lanes; only android-build and backend-rollout
# report a start, every other start is inferred
RUN = [
    ev(Lane.RELEASE, "workflow", Phase.RUNNING, 0),
    ev(Lane.ANDROID, "android-build", Phase.RUNNING, 1),
    ev(Lane.RELEASE, "scan-images", Phase.SUCCEEDED, 2),
    ev(Lane.RELEASE, "static-analysis", Phase.SUCCEEDED, 3),
    ev(Lane.RELEASE, "approval", Phase.SUCCEEDED, 4),
    ev(Lane.BACKEND, "backend-apply", Phase.SUCCEEDED, 5),
    ev(Lane.BACKEND, "backend-rollout", Phase.RUNNING, 6),
    ev(Lane.PWA, "pwa-publish", Phase.SUCCEEDED, 6),
    ev(Lane.ANDROID, "android-build", Phase.SUCCEEDED, 8),
    ev(Lane.BACKEND, "backend-rollout", Phase.SUCCEEDED, 9),
    ev(Lane.PWA, "pwa-verify", Phase.SUCCEEDED, 9.5),
    ev(Lane.ANDROID, "android-publish", Phase.SUCCEEDED, 10),
    ev(Lane.RELEASE, "workflow", Phase.SUCCEEDED, 10.5),
    ev(Lane.BACKEND, "backend-apply", Phase.SUCCEEDED, 3, uid="wf-other"),  # another run
]


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def fills_by_task(svg: str) -> dict[str, str]:
    """Each bar's fill, by the task its tooltip names."""
    return {
        rect.find(f"{SVG}title").text.split(": ")[0]: rect.get("fill")
        for rect in parsed(svg).iter(f"{SVG}rect")
        if rect.find(f"{SVG}title") is not None
    }


def test_normal_run_bars_are_timed_exactly_in_lane_order():
    ok = Phase.SUCCEEDED
    assert bars(RUN, "wf-1") == [
        Bar(Lane.RELEASE, "scan-images", at(0), at(2), ok),
        Bar(Lane.RELEASE, "static-analysis", at(2), at(3), ok),
        Bar(Lane.RELEASE, "approval", at(3), at(4), ok),
        Bar(Lane.BACKEND, "backend-apply", at(0), at(5), ok),  # lane's first: the run's start
        Bar(Lane.BACKEND, "backend-rollout", at(6), at(9), ok),  # its Running event
        Bar(Lane.PWA, "pwa-publish", at(0), at(6), ok),
        Bar(Lane.PWA, "pwa-verify", at(6), at(9.5), ok),  # after pwa-publish
        Bar(Lane.ANDROID, "android-build", at(1), at(8), ok),
        Bar(Lane.ANDROID, "android-publish", at(8), at(10), ok),
    ]
    assert run_summary(RUN, "wf-1") == Run(at(0), at(10.5), Phase.SUCCEEDED)


def test_duplicates_and_reordering_change_nothing():
    shuffled = RUN + RUN[2:6] + RUN[:3]  # redelivered copies
    random.Random(7).shuffle(shuffled)
    for events in (shuffled, list(reversed(RUN))):
        assert bars(events, "wf-1") == bars(RUN, "wf-1")
        assert run_summary(events, "wf-1") == run_summary(RUN, "wf-1")
        svg = render_svg(bars(events, "wf-1"), "checkout", run_summary(events, "wf-1"))
        assert svg == render_svg(bars(RUN, "wf-1"), "checkout", run_summary(RUN, "wf-1"))
    # the input order of bars does not matter to the chart either
    assert render_svg(bars(RUN, "wf-1")[::-1], "t") == render_svg(bars(RUN, "wf-1"), "t")


def test_the_start_a_task_reports_wins_over_any_inference():
    events = [
        ev(Lane.BACKEND, "backend-apply", Phase.SUCCEEDED, 5).model_copy(update={"started": at(4)}),
        ev(Lane.BACKEND, "backend-rollout", Phase.SUCCEEDED, 9).model_copy(
            update={"started": at(5.5)}
        ),
        ev(Lane.RELEASE, "workflow", Phase.SUCCEEDED, 10).model_copy(update={"started": at(-1)}),
    ]
    assert [(b.task, b.start, b.end) for b in bars(events, "wf-1")] == [
        ("backend-apply", at(4), at(5)),
        ("backend-rollout", at(5.5), at(9)),
    ]
    assert run_summary(events, "wf-1") == Run(at(-1), at(10), Phase.SUCCEEDED)  # created


def test_failed_task_is_red_and_ends_the_run_failed():
    events = [
        *RUN[:9],
        ev(Lane.BACKEND, "backend-rollout", Phase.FAILED, 9),
        ev(Lane.PWA, "pwa-verify", Phase.OMITTED, 9.25),
        ev(Lane.RELEASE, "workflow", Phase.FAILED, 9.25),
    ]
    failed = [b for b in bars(events, "wf-1") if b.task == "backend-rollout"]
    assert failed == [Bar(Lane.BACKEND, "backend-rollout", at(6), at(9), Phase.FAILED)]
    run = run_summary(events, "wf-1")
    assert run == Run(at(0), at(9.25), Phase.FAILED)
    svg = render_svg(bars(events, "wf-1"), "checkout", run)
    fills = fills_by_task(svg)
    assert fills["backend-rollout"] == RED
    assert fills["backend-apply"] == GREEN
    assert fills["pwa-verify"] == GREY
    assert ">Failed after 9m 15s</text>" in svg


def test_task_without_terminal_event_is_running_until_the_latest_event():
    events = [
        ev(Lane.RELEASE, "scan-images", Phase.SUCCEEDED, 2),
        ev(Lane.ANDROID, "android-build", Phase.PENDING, 0.5),
        ev(Lane.ANDROID, "android-build", Phase.RUNNING, 1),
        ev(Lane.BACKEND, "backend-apply", Phase.SUCCEEDED, 4),
    ]
    assert bars(events, "wf-1")[2] == Bar(
        Lane.ANDROID, "android-build", at(0.5), at(4), Phase.RUNNING, running=True
    )
    run = run_summary(events, "wf-1")
    assert run == Run(at(0.5), at(4), None)
    svg = render_svg(bars(events, "wf-1"), "checkout", run)
    assert fills_by_task(svg)["android-build"] == AMBER
    assert ">3m 30s (running)</text>" in svg
    assert ">Running after 3m 30s</text>" in svg


def test_run_without_events_is_refused():
    with pytest.raises(ValueError, match=r"^no events for workflow 'wf-missing'$"):
        bars(RUN, "wf-missing")
    with pytest.raises(ValueError, match=r"^no events for workflow 'wf-missing'$"):
        run_summary([], "wf-missing")


def test_svg_parses_with_one_rect_per_bar_and_a_legend():
    drawn = bars(RUN, "wf-1")
    root = parsed(render_svg(drawn, "checkout stage-us", run_summary(RUN, "wf-1")))
    assert root.tag == f"{SVG}svg"
    assert (root.get("version"), root.get("width"), root.get("height")) == ("1.1", "960", "390")
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == len(drawn) + 4  # the bars, then four legend swatches
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[:2] == ["checkout stage-us", "Succeeded after 10m 30s"]
    assert texts[-4:] == ["Succeeded", "Failed / Error", "Skipped / Omitted", "Running"]
    assert texts[2:8] == ["0s", "2m", "4m", "6m", "8m", "10m"]  # axis ticks
    assert {"backend", "pwa", "android", "release"} <= set(texts)
    # durations: backend-apply took 5m, pwa-verify 3m 30s
    assert {"5m", "3m 30s"} <= set(texts)
    # a bar spans its time on the 620px plot: backend-apply is 0..5m of 10m 30s
    apply = next(r for r in rects if r.find(f"{SVG}title").text.startswith("backend-apply:"))
    assert (apply.get("x"), apply.get("width")) == ("220.0", "295.2")


def test_markup_in_names_and_title_is_escaped():
    events = [ev(Lane.PWA, "a<&>b", Phase.SUCCEEDED, 1), ev(Lane.PWA, "c", Phase.RUNNING, 0)]
    svg = render_svg(bars(events, "wf-1"), 'run "<&>"')
    assert "a&lt;&amp;&gt;b" in svg
    assert "a<&>b" not in svg
    root = parsed(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[0] == 'run "<&>"'
    assert "a<&>b" in texts
    assert "a<&>b: Succeeded, 1m" in [t.text for t in root.iter(f"{SVG}title")]


def test_long_task_name_is_cut_in_its_row_but_whole_in_its_tooltip():
    name = "x" * 40
    root = parsed(render_svg(bars([ev(Lane.PWA, name, Phase.SUCCEEDED, 1)], "wf-1"), "t"))
    assert "x" * 31 + "…" in [t.text for t in root.iter(f"{SVG}text")]
    assert [t.text for t in root.iter(f"{SVG}title")] == [f"{name}: Succeeded, 0s"]


def test_more_than_500_bars_are_refused():
    many = [Bar(Lane.BACKEND, f"t{i}", at(i), at(i + 1), Phase.SUCCEEDED) for i in range(501)]
    with pytest.raises(ValueError, match=r"^at most 500 bars can be drawn, got 501$"):
        render_svg(many, "too many")
    root = parsed(render_svg(many[:500], "enough"))
    assert len(list(root.iter(f"{SVG}rect"))) == 504
