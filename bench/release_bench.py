"""Release benchmarks: the unified release's critical path, and a 1,000-artifact release train.

    python bench/release_bench.py [--backend 8 --pwa 3 --android 20 --publish 1 --gates 0]

The critical path is computed from the DAG the stack installs (the rendered WorkflowTemplate's
``depends`` expressions), next to a DAG where the PWA and Android lanes wait for the backend.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.runner import release_settings
from railyard.release_templates import common, size, unified
from railyard_runtime.release import manifest as release_manifest
from railyard_runtime.release import plan

SUCCESS = re.compile(r"([a-z0-9-]+)\.Succeeded")
SETTINGS = release_settings("dev")  # the committed dev stack file


def happy_path_dag(s: common.ReleaseSettings) -> dict[str, list[str]]:
    """task -> tasks it waits for, for the tasks that run when everything succeeds."""
    tasks = {t.name: t.depends or "" for t in unified.dag_tasks(s)}
    return {
        name: SUCCESS.findall(depends)
        for name, depends in tasks.items()
        if not depends or SUCCESS.search(depends)  # rollback runs only on failure
    }


def critical_path(dag: dict[str, list[str]], minutes: dict[str, float]) -> tuple[float, list[str]]:
    finish: dict[str, tuple[float, list[str]]] = {}

    def done(task: str) -> tuple[float, list[str]]:
        if task not in finish:
            before = max((done(d) for d in dag[task]), default=(0.0, []))
            finish[task] = (before[0] + minutes.get(task, 0.0), [*before[1], task])
        return finish[task]

    return max(done(t) for t in dag)


def main(
    backend: Annotated[float, typer.Option(help="Backend apply + rollout, minutes.")] = 8,
    pwa: Annotated[float, typer.Option(help="PWA publish + verify, minutes.")] = 3,
    android: Annotated[float, typer.Option(help="Android build, minutes.")] = 20,
    publish: Annotated[float, typer.Option(help="APK publish, minutes.")] = 1,
    gates: Annotated[float, typer.Option(help="Scans (in parallel), minutes.")] = 0,
    artifacts: Annotated[int, typer.Option(help="Artifacts in the release-train manifest.")] = 1000,
) -> None:
    console = Console()
    minutes = {
        "scan-images": gates,
        "static-analysis": gates,
        "backend-rollout": backend,
        "pwa-publish": pwa,
        "android-build": android,
        "android-publish": publish,
    }
    ours, path = critical_path(happy_path_dag(SETTINGS), minutes)
    serial_dag = {"backend": [], "pwa": ["backend"], "android": ["backend"], "publish": ["android"]}
    serial, serial_path = critical_path(
        serial_dag, {"backend": backend, "pwa": pwa, "android": android, "publish": publish}
    )
    table = Table("DAG", "critical path (min)", "path")
    table.add_row("railyard unified-release", f"{ours:g}", " → ".join(path))
    table.add_row("lanes after the backend (Android waits)", f"{serial:g}", " → ".join(serial_path))
    console.print(table)
    console.print(f"saved {serial - ours:g} min per release ({(serial - ours) / serial:.0%})")

    started = time.perf_counter()
    manifest = _manifest(artifacts)
    parsed = time.perf_counter()
    chunks = plan.chunk_count(manifest)
    jobs = sum(len(v) for i in range(chunks) for v in plan.jobs_by_kind(manifest, i).values())
    planned = time.perf_counter()
    objects = size.train_objects(SETTINGS, manifest)
    sized = time.perf_counter()
    largest = max(objects, key=lambda o: o.bytes)
    table = Table(f"release train, {artifacts} artifacts", "value")
    table.add_row("parse + validate manifest", f"{(parsed - started) * 1000:.0f} ms")
    table.add_row(
        f"expand into {chunks} chunks / {jobs} jobs", f"{(planned - parsed) * 1000:.0f} ms"
    )
    table.add_row("render templates + size every Workflow", f"{(sized - planned) * 1000:.0f} ms")
    table.add_row(
        "largest Workflow object",
        f"{largest.name}: {largest.bytes / 1024:.0f} KiB, "
        f"{largest.nodes} nodes (limit checked: 256 KiB)",
    )
    console.print(table)


def _manifest(artifacts: int) -> release_manifest.Manifest:
    sha = "0930014f81f655d0c50f8172a575fc50128716bd"
    lines = [
        "environment: {name: staging, shortName: stage, destinationTagPrefix: stage}",
        "products:",
        "  - name: product1",
        "    releaseVersion: 1.9.0",
        "    releaseCandidate: 2",
        "    deployments:",
    ]
    half = artifacts // 2
    for i in range(half):
        lines += [
            f"      - gitRepoName: service-{i}",
            f"        gitRepoShortName: svc-{i}",
            f"        gitCommit: {sha}",
            "        workflowBase: lambda-job",
            "        deployTarget: lambda",
        ]
    lines.append("    images:")
    for i in range(artifacts - half):
        lines += [f"      - repoName: product1/svc-{i}", f"        sourceTag: dev_{i}"]
    return release_manifest.parse("\n".join(lines) + "\n", "bench.yaml")


if __name__ == "__main__":
    typer.run(main)
