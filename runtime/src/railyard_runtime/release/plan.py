"""What a release manifest expands to: one job per deployment, image promotions, in chunks.

The deployer Workflow creates one child Workflow per chunk, so no Workflow object holds more
than ``chunk_size`` job nodes; etcd keeps each object under ~1 MB
(docs/design.md: release train chunking). Chunks are cut from the manifest order, so the same
manifest always gives the same chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

from railyard_runtime.images import target_tag
from railyard_runtime.release.manifest import (
    IMAGE_JOB_TEMPLATE,
    JOB_TEMPLATE,
    Deployment,
    DeployTarget,
    Image,
    Manifest,
)

DEFAULT_CHUNK_SIZE = 40  # ~180 KB per chunk Workflow at worst (bench/release_bench.py)
KINDS = ("lambda", "s3", "apigw", "image")
_DEFAULT_SOURCE = {
    DeployTarget.LAMBDA: ".",
    DeployTarget.S3: "dist",
    DeployTarget.APIGW: "swagger.yaml",
}


@dataclass(frozen=True)
class Entry:
    product: str
    item: Deployment | Image


def entries(manifest: Manifest) -> list[Entry]:
    """Every artifact of the manifest in file order: a product's deployments, then its images."""
    return [
        Entry(product.name, item)
        for product in manifest.products
        for item in (*product.deployments, *product.images)
    ]


def chunk_count(manifest: Manifest, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    total = len(entries(manifest))
    return max(1, -(-total // chunk_size))


def chunk(manifest: Manifest, index: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[Entry]:
    if not 0 <= index < chunk_count(manifest, chunk_size):
        raise IndexError(index)
    return entries(manifest)[index * chunk_size : (index + 1) * chunk_size]


def deployment_job(manifest: Manifest, product: str, dep: Deployment) -> dict[str, str]:
    """The parameters the deployment's job template takes (all strings, for ``withParam``)."""
    env = manifest.environment
    job = {
        "name": f"{product}-{dep.git_repo_short_name}"[:63],
        "template": JOB_TEMPLATE[dep.deploy_target],
        "flavour": dep.workflow_base,
        "repo": dep.git_repo_name,
        "commit": dep.git_commit,
        "source": dep.source or _DEFAULT_SOURCE[dep.deploy_target],
    }
    if dep.deploy_target is DeployTarget.LAMBDA:
        job["functionName"] = dep.function_name or f"{env.short_name}-{dep.git_repo_short_name}"
    elif dep.deploy_target is DeployTarget.S3:
        job |= {"bucket": dep.bucket or "", "prefix": dep.prefix}
    else:
        job |= {"restApiId": dep.rest_api_id or "", "stage": dep.stage or env.short_name}
    return job


def jobs_by_kind(
    manifest: Manifest, index: int, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> dict[str, list[dict[str, str]]]:
    """Chunk ``index`` as the child Workflow fans it out: one list per job kind.

    Image promotions of a chunk run as one job (``images promote --manifest --chunk``): a
    retag is one API call, not worth a pod each.
    """
    out: dict[str, list[dict[str, str]]] = {kind: [] for kind in KINDS}
    has_images = False
    for entry in chunk(manifest, index, chunk_size):
        if isinstance(entry.item, Deployment):
            job = deployment_job(manifest, entry.product, entry.item)
            out[entry.item.deploy_target.value].append(job)
        else:
            has_images = True
    if has_images:
        out["image"].append(
            {"name": f"images-{index}", "template": IMAGE_JOB_TEMPLATE, "chunk": str(index)}
        )
    return out


def image_moves(
    manifest: Manifest, index: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> list[tuple[str, str, str]]:
    """(repository, source tag, target tag) of the images of the manifest, or of one chunk."""
    prefix = manifest.environment.destination_tag_prefix
    picked = entries(manifest) if index is None else chunk(manifest, index, chunk_size)
    return [
        (e.item.repo_name, e.item.source_tag, target_tag(e.item.source_tag, prefix))
        for e in picked
        if isinstance(e.item, Image)
    ]
