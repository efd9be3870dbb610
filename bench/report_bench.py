"""Delivery report benchmark: the four keys over a large event history, from a file.

    python bench/report_bench.py [--runs 15000]

Writes ``--runs`` unified releases (11 events each, 5% failed, 2% rolled back, 10% of events
duplicated, shuffled) to a JSON-lines file, then times reading it and computing every lane's
report, as ``railyard-steps report metrics`` does each hour. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from railyard_runtime.events import Phase, PipelineEvent
from railyard_runtime.history import read_file
from railyard_runtime.report import dora

TASKS = (
    ("release", "scan-images"), ("release", "static-analysis"), ("backend", "backend-apply"),
    ("backend", "backend-rollout"), ("pwa", "pwa-publish"), ("pwa", "pwa-verify"),
    ("pwa", "pwa-canary"), ("android", "android-build"), ("android", "android-publish"),
    ("backend", "backend-rollback"),
)  # fmt: skip


def history(runs: int, seed: int = 7) -> list[PipelineEvent]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for i in range(runs):
        t0 = start + timedelta(minutes=15 * i)
        failed, rolled = rng.random() < 0.05, rng.random() < 0.02
        common = {
            "feature": f"PAY-{i % 500}", "env": "prod", "workflow_uid": f"run-{i}",
            "template": "unified-release", "commit": f"{i:040x}", "repository": "acme/app",
        }  # fmt: skip
        for j, (lane, task) in enumerate(TASKS):
            if task == "backend-rollback" and not rolled:
                continue
            phase = Phase.FAILED if failed and task == "android-build" else Phase.SUCCEEDED
            events.append(
                PipelineEvent(
                    lane=lane,
                    task=task,
                    phase=phase,
                    rolled_back=rolled and lane == "backend" and task == "backend-rollback",
                    started=t0 + timedelta(minutes=j),
                    time=t0 + timedelta(minutes=j + 1),
                    **common,
                )
            )
        events.append(
            PipelineEvent(
                lane="release",
                task="workflow",
                phase=Phase.FAILED if failed else Phase.SUCCEEDED,
                started=t0,
                time=t0 + timedelta(minutes=12),
                commit_time=t0 - timedelta(hours=1),
                **common,
            )
        )
    events += rng.sample(events, k=len(events) // 10)
    rng.shuffle(events)
    return events


def main(runs: Annotated[int, typer.Option(help="Releases in the history.")] = 15000) -> None:
    events = history(runs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_text(
            "".join(e.model_dump_json(by_alias=True, exclude_none=True) + "\n" for e in events)
        )
        size = path.stat().st_size
        began = time.perf_counter()
        read = read_file(path)
        reading = time.perf_counter() - began
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=400)
    began = time.perf_counter()
    folded = dora.runs(read, "prod")  # as `report metrics` does: one fold, every lane
    reports = [dora.report_runs(folded, "prod", since, until, lane) for lane in dora.LANES]
    computing = time.perf_counter() - began
    every = reports[0]
    print(f"history: {runs:,} runs, {len(read):,} events ({size / 1e6:.1f} MB)")
    print(f"read + validate: {reading:.2f} s ({len(read) / reading:,.0f} events/s)")
    print(f"four keys for 4 lanes: {computing:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:,.0f} MiB")
    print(
        f"all lanes: {every.deployments:,} deployments, change failure rate "
        f"{every.change_failure_rate}, lead time p50 {every.lead_time_p50} s"
    )


if __name__ == "__main__":
    typer.run(main)
