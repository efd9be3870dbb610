"""A release run's timeline: one Gantt bar per task, grouped by lane, drawn as SVG 1.1 text.

It is the view a person wants when asking why a release was slow: which lane took the time,
which task in it, and where it failed or is still running. It is built from the run's
pipeline events only, which may come duplicated and out of order.

How a bar is timed:
- end: the task's latest terminal event (Succeeded, Failed, Error, Skipped, Omitted);
  with none, the task is still running and ends at the run's latest event;
- start: the ``started`` its exit event carries (the task's last attempt); else its earliest
  Pending/Running event; else (events sent before tasks said when they started) the end of
  the previous task of its lane, or the run's start for the lane's first task.
A duplicate (same task and phase) changes nothing. The run's own exit event (task
``workflow``) is no bar: it gives the run's start (when it was created), its end and final
phase (``run_summary``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from railyard_runtime.events import RUN_TASK, Lane, Phase, PipelineEvent

LANE_ORDER = (Lane.RELEASE, Lane.BACKEND, Lane.PWA, Lane.ANDROID)  # gates and approval first
MAX_BARS = 500

GREEN, RED, GREY, AMBER = "#3c9a4a", "#d64541", "#9e9e9e", "#f0a30a"
COLOURS = {Phase.SUCCEEDED: GREEN, Phase.FAILED: RED, Phase.ERROR: RED}
LEGEND = (("Succeeded", GREEN), ("Failed / Error", RED), ("Skipped / Omitted", GREY))
WIDTH, PLOT_X0, PLOT_X1 = 960, 220, 840  # task names left of PLOT_X0, durations right of bars
NAME_CHARS = 32  # longer task names are cut in the row (the bar's tooltip has it whole)
TOP, ROW, BAR_H = 64, 22, 14
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200)


@dataclass(frozen=True)
class Bar:
    lane: Lane
    task: str
    start: datetime
    end: datetime
    phase: Phase  # the terminal phase; while running, the latest non-terminal one
    running: bool = False

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Run:
    start: datetime  # the run's earliest event
    end: datetime  # the workflow's terminal event; while it runs, the run's latest event
    phase: Phase | None  # the workflow's final phase; None while it runs


def _key(e: PipelineEvent) -> tuple[datetime, str, str, str]:
    return (e.time, e.task, e.phase.value, e.lane.value)


def _events_of(events: Iterable[PipelineEvent], workflow_uid: str) -> list[PipelineEvent]:
    own = sorted((e for e in events if e.workflow_uid == workflow_uid), key=_key)
    if not own:
        raise ValueError(f"no events for workflow {workflow_uid!r}")
    return own


def _summary(own: list[PipelineEvent]) -> Run:
    done = [e for e in own if e.task == RUN_TASK and e.terminal]
    last = done[-1] if done else None
    created = [e.started for e in own if e.task == RUN_TASK and e.started]
    start = min([own[0].time, *created])
    return Run(start, last.time if last else own[-1].time, last.phase if last else None)


def run_summary(events: Iterable[PipelineEvent], workflow_uid: str) -> Run:
    """The run's start, end and final phase; ValueError if it has no events."""
    return _summary(_events_of(events, workflow_uid))


def _row_key(bar: Bar) -> tuple[int, datetime, datetime, str]:
    return (LANE_ORDER.index(bar.lane), bar.start, bar.end, bar.task)


def bars(events: Iterable[PipelineEvent], workflow_uid: str) -> list[Bar]:
    """One bar per task of the run, in row order (lane, start, end, name)."""
    own = _events_of(events, workflow_uid)
    run, latest = _summary(own), own[-1].time
    by_task: dict[str, list[PipelineEvent]] = {}
    for e in own:
        if e.task != RUN_TASK:
            by_task.setdefault(e.task, []).append(e)
    ends: list[tuple[Lane, datetime, str, Phase, bool, datetime | None]] = []
    for task, evs in by_task.items():  # each list is in time order
        done = [e for e in evs if e.terminal]
        last = (done or evs)[-1]
        said = [e.started for e in evs if e.started]
        known = min(said) if said else next((e.time for e in evs if not e.terminal), None)
        ends.append((last.lane, last.time if done else latest, task, last.phase, not done, known))
    result: list[Bar] = []
    previous: dict[Lane, datetime] = {}
    for lane, end, task, phase, running, known in sorted(ends, key=lambda t: (t[1], t[2])):
        start = min(known or previous.get(lane, run.start), end)
        previous[lane] = end
        result.append(Bar(lane, task, start, end, phase, running))
    return sorted(result, key=_row_key)


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    parts = [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m) + [f"{s}s"] * bool(s and not h)
    return " ".join(parts) or "0s"


def _el(tag: str, attrs: dict[str, object], text: str | None = None, inner: str = "") -> str:
    a = "".join(
        f" {k}={quoteattr(f'{v:.1f}' if isinstance(v, float) else str(v))}"
        for k, v in attrs.items()
    )
    body = (escape(text) if text is not None else "") + inner
    return f"<{tag}{a}>{body}</{tag}>" if body else f"<{tag}{a}/>"


def render_svg(bars: Sequence[Bar], title: str, run: Run | None = None) -> str:
    """The bars as a Gantt chart (SVG 1.1 text), x in time since the run's start. ``run``
    (from ``run_summary``) adds the run's status and stretches the axis to its end."""
    if len(bars) > MAX_BARS:
        raise ValueError(f"at most {MAX_BARS} bars can be drawn, got {len(bars)}")
    rows = sorted(bars, key=_row_key)
    starts = [b.start for b in rows] + ([run.start] if run else [])
    ends = [b.end for b in rows] + ([run.end] if run else [])
    origin = min(starts, default=datetime(1970, 1, 1, tzinfo=UTC))
    span = max((max(ends, default=origin) - origin).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return PLOT_X0 + (t - origin).total_seconds() / span * (PLOT_X1 - PLOT_X0)

    lanes = [lane for lane in LANE_ORDER if any(b.lane is lane for b in rows)]
    bottom = TOP + ROW * (len(rows) + len(lanes))
    height = bottom + 40
    out = [_el("text", {"x": 10, "y": 22, "font-size": 16, "font-weight": "bold"}, title)]
    if run:
        status = run.phase.value if run.phase else "Running"
        summary = f"{status} after {_duration((run.end - run.start).total_seconds())}"
        out.append(_el("text", {"x": 10, "y": 40}, summary))
    step = next((s for s in TICK_STEPS if span / s <= 6), TICK_STEPS[-1])
    for i in range(int(span // step) + 1):
        tx = PLOT_X0 + i * step / span * (PLOT_X1 - PLOT_X0)
        line = {"x1": tx, "y1": TOP - 4, "x2": tx, "y2": bottom, "stroke": "#e0e0e0"}
        out.append(_el("line", line))
        out.append(
            _el("text", {"x": tx, "y": TOP - 8, "text-anchor": "middle"}, _duration(i * step))
        )
    y = TOP
    for lane in lanes:
        out.append(_el("text", {"x": 10, "y": y + 15, "font-weight": "bold"}, lane.value))
        y += ROW
        for b in (b for b in rows if b.lane is lane):
            x0, x1 = x(b.start), x(b.end)
            fill = AMBER if b.running else COLOURS.get(b.phase, GREY)
            label = _duration(b.seconds) + (" (running)" if b.running else "")
            tip = _el("title", {}, f"{b.task}: {b.phase.value}, {label}")
            name = {"x": PLOT_X0 - 8, "y": y + 15, "text-anchor": "end"}
            short = b.task if len(b.task) <= NAME_CHARS else b.task[: NAME_CHARS - 1] + "…"
            out.append(_el("text", name, short))
            rect = {"x": x0, "y": y + 4, "width": max(x1 - x0, 1.0), "height": BAR_H}
            out.append(_el("rect", {**rect, "fill": fill}, inner=tip))
            out.append(_el("text", {"x": max(x1, x0 + 1.0) + 4, "y": y + 15}, label))
            y += ROW
    for i, (name, colour) in enumerate((*LEGEND, ("Running", AMBER))):
        lx = 10 + i * 160
        out.append(
            _el("rect", {"x": lx, "y": bottom + 16, "width": 12, "height": 12, "fill": colour})
        )
        out.append(_el("text", {"x": lx + 18, "y": bottom + 26}, name))
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
        'font-size="12">'
    )
    return "\n".join([head, *out, "</svg>"]) + "\n"
