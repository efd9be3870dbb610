"""Write every Argo object the stack registers, as the API server would receive it.

    python -m offline.argo_objects dev rendered/dev-argo.yaml

The file is what ``validate-argo`` (the upstream CRD schemas, closed) checks in CI, and what a
reviewer reads to see the release templates of an environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from offline.recorder import OfflinePlan
from offline.runner import run_offline

ARGO_TYPES = ("kubernetes:argoproj.io/",)


def argo_objects(plan: OfflinePlan) -> list[dict]:
    """Registered Argo objects, plus the Workflows their resource templates create."""
    objects = [
        {k: r.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in r.inputs}
        for r in plan.resources
        if r.type.startswith(ARGO_TYPES)
    ]
    created = [
        yaml.safe_load(t["resource"]["manifest"])
        for o in objects
        for t in o.get("spec", {}).get("templates", [])
        if "resource" in t
    ]
    return objects + created


def main(
    stack: Annotated[str, typer.Argument(help="Stack: dev or prod.")],
    out: Annotated[Path, typer.Argument(help="YAML file to write (multi-document).")],
) -> None:
    objects = argo_objects(run_offline(stack))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    typer.echo(f"{len(objects)} Argo objects of {stack} written to {out}")


if __name__ == "__main__":
    typer.run(main)
