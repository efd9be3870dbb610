"""The pictures docs/ shows of delivery: a release's timeline and the release dashboard's layout.

    python -m offline.doc_pictures        # (make doc-pictures) rewrites docs/images/*.svg

Both are generated, never drawn by hand: the timeline by ``railyard-steps report timeline``'s
own renderer from the events of a sample run the runtime's tests use, the dashboard from the
body the stack gives CloudWatch (its grid, titles and what each widget plots). A test fails
when a committed picture differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from railyard.dashboard import DashboardTargets, dashboard_body
from railyard_runtime.history import read_file
from railyard_runtime.report import timeline

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RUN = ROOT / "runtime" / "tests" / "data" / "release-run.jsonl"
TIMELINE = ROOT / "docs" / "images" / "release-timeline.svg"
DASHBOARD = ROOT / "docs" / "images" / "release-dashboard.svg"
EXAMPLE = DashboardTargets(
    env="prod",
    region="eu-central-1",
    queue_name="railyard-prod-kanban-events.fifo",
    dlq_name="railyard-prod-kanban-events-dlq.fifo",
    canary_name="railyard-prod-pwa",
)
CELL_X, CELL_Y, MARGIN = 40, 26, 10  # pixels per grid unit (CloudWatch's grid is 24 wide)


def timeline_svg() -> str:
    events = read_file(SAMPLE_RUN)
    (uid,) = {e.workflow_uid for e in events}
    run = timeline.run_summary(events, uid)
    title = f"{events[0].feature} · {events[0].env} · unified-release"
    return timeline.render_svg(timeline.bars(events, uid), title, run)


def _series(widget: dict) -> list[str]:
    """What a widget plots, one short line per metric row."""
    lines = []
    for row in widget["properties"]["metrics"]:
        label = row[-1].get("label") if isinstance(row[-1], dict) else None
        names = [str(v) for v in row if not isinstance(v, dict)]
        dims = dict(zip(names[2::2], names[3::2], strict=False))
        lines.append(label or " ".join([names[1], *(f"{k}={v}" for k, v in dims.items())]))
    return lines


def dashboard_svg(targets: DashboardTargets = EXAMPLE) -> str:
    widgets = dashboard_body(targets)["widgets"]
    width = 24 * CELL_X + 2 * MARGIN
    height = max(w["y"] + w["height"] for w in widgets) * CELL_Y + 2 * MARGIN
    out = []
    for w in widgets:
        x, y = MARGIN + w["x"] * CELL_X, MARGIN + w["y"] * CELL_Y
        box = {"x": x + 2, "y": y + 2, "width": w["width"] * CELL_X - 4}
        box["height"] = w["height"] * CELL_Y - 4
        attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in box.items())
        out.append(f'<rect {attrs} fill="#ffffff" stroke="#c8c8c8" rx="3"/>')
        if w["type"] == "text":
            heading, _, body = w["properties"]["markdown"].partition("\n")
            out.append(_text(x + 10, y + 22, heading.lstrip("# "), bold=True))
            out.append(_text(x + 10, y + 40, body[:150], size=11))
            continue
        props = w["properties"]
        out.append(_text(x + 10, y + 20, props["title"], bold=True))
        kind = f"{props['view']} · {props['stat']} · {props['period']} s"
        out.append(_text(x + 10, y + 36, kind, size=10, fill="#777777"))
        for i, line in enumerate(_series(w)[:6]):
            out.append(_text(x + 14, y + 54 + 14 * i, f"— {line}", size=11))
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">'
    )
    background = f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f2f3f3"/>'
    return "\n".join([head, background, *out, "</svg>"]) + "\n"


def _text(x: int, y: int, text: str, size: int = 12, bold: bool = False, fill: str = "") -> str:
    weight = ' font-weight="bold"' if bold else ""
    colour = f' fill="{fill}"' if fill else ""
    return f'<text x="{x}" y="{y}" font-size="{size}"{weight}{colour}>{escape(text)}</text>'


def pictures() -> dict[Path, str]:
    return {TIMELINE: timeline_svg(), DASHBOARD: dashboard_svg()}


def main() -> None:
    for path, svg in pictures().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
