"""Judge the stacks' WorkflowEventBindings with argo-server's own expression engine.

    python -m offline.trigger_check --argo-expr ../shared/tools/argo-expr

Runs each binding of dev and prod (with an application repository configured) over the GitHub
push payloads in ``tests/github_events/`` and compares with ``expected.yaml`` there: which
bindings match, the parameters they submit and the Workflow name (template and delivery id).
Exit 1 on any difference or evaluation error. ``argo-expr`` is expr-lang v1.17.7 in
argo-server v4.0.8's environment; it lives beside the repository, not in it.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
import yaml

from offline.argo_objects import argo_objects
from offline.runner import run_offline
from offline.stack_files import PROJECT_ROOT
from railyard.release_templates.triggers import DISCRIMINATOR

EVENTS = PROJECT_ROOT / "tests" / "github_events"
OVERRIDES = {"railyard:releaseTriggerRepositories": ["app"]}


def bindings(stack: str) -> list[dict]:
    plan = run_offline(stack, OVERRIDES)
    return [o for o in argo_objects(plan) if o["kind"] == "WorkflowEventBinding"]


def evaluate(tool: Path, binding: dict, payloads: list[Path], event: str, delivery: str) -> list:
    spec = binding["spec"]
    parameters = spec["submit"]["arguments"]["parameters"]
    command = [str(tool), "-selector", spec["event"]["selector"]]
    for expression in [p["valueFrom"]["event"] for p in parameters] + [
        spec["submit"]["metadata"]["name"]
    ]:
        command += ["-value", expression]
    command += ["-namespace", binding["metadata"]["namespace"], "-discriminator", DISCRIMINATOR]
    command += ["-header", f"x-github-event={event}", "-header", f"x-github-delivery={delivery}"]
    done = subprocess.run(
        command + [str(p) for p in payloads], capture_output=True, text=True, timeout=60
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"argo-expr failed: {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def check(tool: Path) -> list[str]:
    expected = yaml.safe_load((EVENTS / "expected.yaml").read_text())
    delivery = expected["delivery"]
    by_event: dict[str, list[dict]] = defaultdict(list)
    for case in expected["cases"]:
        by_event[case.get("event", "push")].append(case)
    problems: list[str] = []
    for stack in ("dev", "prod"):
        for binding in bindings(stack):
            name = binding["metadata"]["name"]
            template = binding["spec"]["submit"]["workflowTemplateRef"]["name"]
            params = [p["name"] for p in binding["spec"]["submit"]["arguments"]["parameters"]]
            for event, cases in by_event.items():
                results = evaluate(
                    tool, binding, [EVENTS / c["payload"] for c in cases], event, delivery
                )
                for case, result in zip(cases, results, strict=True):
                    where = f"{stack} {name} on {case['payload']} ({event})"
                    want = case[stack].get(name)
                    errors = [
                        result["error"],
                        *(v["error"] for v in result["values"] if isinstance(v, dict)),
                    ]
                    if any(errors):
                        problems.append(f"{where}: evaluation error {next(e for e in errors if e)}")
                    elif result["matched"] != (want is not None):
                        problems.append(
                            f"{where}: matched={result['matched']}, expected {want is not None}"
                        )
                    elif want is not None:
                        got = dict(zip(params, result["values"], strict=False))
                        if got != want:
                            problems.append(f"{where}: parameters {got}, expected {want}")
                        workflow = result["values"][-1]
                        if workflow != f"{template}-{delivery.lower()}":
                            problems.append(f"{where}: Workflow name {workflow!r}")
    return problems


def main(
    argo_expr: Annotated[
        Path, typer.Option(help="The argo-expr tool (expr-lang as argo-server runs it).")
    ],
) -> None:
    if not argo_expr.is_file():
        raise typer.BadParameter(f"{argo_expr} is not a file", param_hint="--argo-expr")
    problems = check(argo_expr)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("every binding of dev and prod did what tests/github_events/expected.yaml says")


if __name__ == "__main__":
    typer.run(main)
