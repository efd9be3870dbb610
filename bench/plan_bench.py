"""The offline plan of prod against the import floor of the SDKs it uses, and where its time goes.

Each figure is the median of fresh Python processes (nothing cached in memory):

- import floor: importing pulumi, pulumi_aws, pulumi_alicloud, pulumi_kubernetes, pulumi_eks and
  hera as far as the prod plan uses them: their packages plus every SDK module the plan ends up
  loading. The packages load a service's modules lazily, on its first resource (all of
  ``pulumi_aws.ec2`` at the first VPC), so their top level alone, also printed, holds almost
  nothing a program that creates resources needs;
- plan: ``run_offline("prod")`` from a cold process, imports included, split into the SDK
  module imports, railyard's own imports and the program run under mocks (a warm rerun);
- the CLI: ``python -m offline.plan prod`` as ``make plan STACK=prod`` runs it, start to exit:
  the plan, the policy pack, the printed tree and the interpreter's exit.

    python bench/plan_bench.py [--runs 3]
"""

from __future__ import annotations

import json
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
PACKAGES = ("pulumi", "pulumi_aws", "pulumi_alicloud", "pulumi_kubernetes", "pulumi_eks", "hera")
TOP_LEVEL = (
    "import pulumi, pulumi_aws, pulumi_alicloud, pulumi_kubernetes, pulumi_eks, hera.workflows"
)

_SDK_MODULES = f"""
import json, sys
from offline.runner import run_offline
run_offline("prod")
# every SDK module the run executed (lazily loaded ones that stayed untouched are not counted),
# packages before their modules, so each package's __init__ runs as it did in the plan
loaded = [
    m
    for m, module in list(sys.modules.items())
    if m.split(".")[0] in {PACKAGES!r} and type(module).__name__ != "_LazyModule"
]
print(json.dumps(sorted(loaded, key=lambda m: (m.count("."), m))))
"""
_PLAN = """
import time
t0 = time.perf_counter()
from offline.runner import run_offline
run_offline("prod")
print(time.perf_counter() - t0)
"""
_PARTS = """
import json, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
from offline.runner import run_offline
t2 = time.perf_counter()
run_offline("prod")
t3 = time.perf_counter()
run_offline("prod")
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
"""


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def _seconds(code: str) -> float:
    return float(_python(code))


def _cli_seconds() -> float:
    """`make plan STACK=prod` without make: the whole process, start to exit, output discarded."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "offline.plan", "prod"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"the plan CLI failed:\n{done.stderr.decode()[-2000:]}")
    return time.perf_counter() - t0


def main(runs: Annotated[int, typer.Option(min=1, max=9, help="Fresh processes per figure.")] = 3):
    modules = json.loads(_python(_SDK_MODULES))
    # import_module, then an attribute: the SDKs load service modules lazily, on first use
    imports = "import importlib\n" + "\n".join(
        f"getattr(importlib.import_module({m!r}), '_force_load', None)" for m in modules
    )
    timed = "import time\nt0 = time.perf_counter()\n{}\nprint(time.perf_counter() - t0)"
    package_floor = [_seconds(timed.format(TOP_LEVEL)) for _ in range(runs)]
    module_floor = [_seconds(timed.format(imports)) for _ in range(runs)]
    plan = [_seconds(_PLAN) for _ in range(runs)]
    parts = [json.loads(_python(_PARTS.format(imports=imports))) for _ in range(runs)]
    cli = [_cli_seconds() for _ in range(runs)]
    med = statistics.median
    sdk, own, first, warm = (med(p[i] for p in parts) for i in range(4))
    table = Table(title=f"offline plan of prod, median of {runs} fresh processes")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_row(
        f"import floor: the {len(modules)} SDK modules the plan loads", f"{med(module_floor):.2f}"
    )
    table.add_row("  (the six packages' top level alone)", f"{med(package_floor):.2f}")
    table.add_row("plan, cold process, imports included", f"{med(plan):.2f}")
    table.add_row("  where it goes: SDK modules", f"{sdk:.2f}")
    table.add_row("  where it goes: railyard's own modules", f"{own:.2f}")
    table.add_row("  where it goes: the first run under mocks", f"{first:.2f}")
    table.add_row("  (a second run in the same process)", f"{warm:.2f}")
    table.add_row("python -m offline.plan prod: policies, printing, exit", f"{med(cli):.2f}")
    table.add_row("plan / import floor", f"{med(plan) / med(module_floor):.2f}")
    table.add_row(
        "  (python -m offline.plan prod / import floor)", f"{med(cli) / med(module_floor):.2f}"
    )
    table.add_row("  (plan / the packages' top level)", f"{med(plan) / med(package_floor):.2f}")
    Console().print(table)


if __name__ == "__main__":
    typer.run(main)
