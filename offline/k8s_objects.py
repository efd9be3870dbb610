"""Write every Kubernetes object the stack registers, one file each, as the API server gets it.

    python -m offline.k8s_objects dev rendered/dev

Argo objects included (and the Workflows their resource templates create); Secret values are
masked. The folder is what Checkov scans in CI (`make scan`): one object per file, because its
Argo Workflows scanner reads only a file's first document. The Argo chart's own Deployments are
rendered by Helm at deploy time and are not here; their security settings are the chart values
the stack passes (tests check them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from offline.argo_objects import argo_objects
from offline.recorder import OfflinePlan
from offline.runner import SECRET_MASK, run_offline

# Types that are not API objects: Helm releases and YAML files applied as they are.
NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/")
_FILE_PART = re.compile(r"[^a-z0-9.-]+")


def kubernetes_objects(plan: OfflinePlan) -> list[dict]:
    """Every registered Kubernetes object (Argo's first), values as the API server gets them."""
    others = [
        r.inputs
        for r in plan.resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith(NOT_OBJECTS)
        and not r.type.startswith("kubernetes:argoproj.io/")
    ]
    return [_masked(api_values(o)) for o in [*argo_objects(plan), *others]]


def api_values(value: Any) -> Any:
    """Numbers the mocks carried as floats back to integers (the Kubernetes API has no floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: api_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [api_values(v) for v in value]
    return value


def _masked(obj: dict) -> dict:
    if obj.get("kind") != "Secret":
        return obj
    masked = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            masked[field] = dict.fromkeys(obj[field], SECRET_MASK)
    return masked


def file_name(index: int, obj: dict) -> str:
    meta = obj.get("metadata") or {}
    parts = (obj.get("kind", "object"), meta.get("namespace", ""), meta.get("name", ""))
    stem = "-".join(_FILE_PART.sub("-", str(p).lower()).strip("-") for p in parts if p)
    return f"{index:03d}-{stem}.yaml"


# Checkov's argo_workflows runner takes every kind that starts with "Workflow" for a Workflow
# (its KIND_PATTERN has no word boundary), so it checks a WorkflowEventBinding's pods. A binding
# runs none: what it submits is its WorkflowTemplate, scanned on its own. Skipped on the binding
# only, in the comment form that runner reads.
NOT_A_WORKFLOW = {
    "WorkflowEventBinding": [
        f"checkov:skip={check}: a WorkflowEventBinding runs no pod; the template it submits "
        "is scanned on its own"
        for check in ("CKV_ARGO_1", "CKV_ARGO_2")
    ]
}


def to_yaml(obj: dict) -> str:
    text = yaml.safe_dump(obj, sort_keys=False)
    skips = NOT_A_WORKFLOW.get(obj.get("kind", ""))
    if skips:
        text = text.replace("\nspec:\n", "\nspec:\n" + "".join(f"  # {s}\n" for s in skips), 1)
    return text


def write(objects: list[dict], folder: Path) -> None:
    """One YAML file per object; the folder's earlier YAML files go first (no stale objects)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for i, obj in enumerate(objects, 1):
        (folder / file_name(i, obj)).write_text(to_yaml(obj))


def main(
    stack: Annotated[str, typer.Argument(help="Stack: dev or prod.")],
    folder: Annotated[Path, typer.Argument(help="Folder to write, one YAML file per object.")],
) -> None:
    objects = kubernetes_objects(run_offline(stack))
    write(objects, folder)
    typer.echo(f"{len(objects)} Kubernetes objects of {stack} written to {folder}/")


if __name__ == "__main__":
    typer.run(main)
