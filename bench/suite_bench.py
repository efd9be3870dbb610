"""The whole test suite as `make test` runs it: wall time, CPU time, workers.

    python bench/suite_bench.py [--runs 1]

Runs ``pytest -n auto`` (every test, nothing deselected) in a fresh process per run and prints
the wall time next to the CPU-seconds the suite's processes used; CPU-seconds over cores is
the floor no distribution can beat. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scheduling import auto_workers, cores  # noqa: E402 - after the path

TARGET_SECONDS = 90
PASSED = re.compile(r"(\d+) passed")


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _suite() -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, tests passed) of one run."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "auto", "-q", "-p", "no:warnings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"the suite failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return wall, cpu, int(PASSED.findall(done.stdout)[-1])


def main(runs: Annotated[int, typer.Option(min=1, max=5, help="Whole-suite runs.")] = 1):
    results = [_suite() for _ in range(runs)]
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    table = Table(title=f"make test, median of {runs}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("tests passed", str(results[0][2]))
    table.add_row("cores / xdist workers", f"{cores()} / {auto_workers()}")
    table.add_row("wall seconds", f"{wall:.1f}")
    table.add_row("CPU seconds, all processes", f"{cpu:.1f}")
    table.add_row("floor: CPU seconds / cores", f"{cpu / cores():.1f}")
    table.add_row("target (2 cores)", f"≤ {TARGET_SECONDS}")
    Console().print(table)


if __name__ == "__main__":
    typer.run(main)
