"""Cross-field checks of the cluster, Argo and the release templates."""

from __future__ import annotations

import re
from collections.abc import Collection

from railyard.config.errors import Problem
from railyard.config.model import StackConfig, full_key
from railyard_runtime.scans.images import SEVERITIES

PINNED = re.compile(
    r"^(?P<repo>[^\s@:]+(?::\d+)?/[^\s@:]+):(?P<tag>[^\s@:/]+)@sha256:[0-9a-f]{64}$"
)
ARGO_IMAGE_KEYS = ("argoControllerImage", "argoServerImage", "argoExecutorImage")


def check(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    return [*_check_cluster(c), *_check_images(c), *_check_release(c, secret_keys)]


def _check_cluster(c: StackConfig) -> list[Problem]:
    if c.is_production and c.eks_public_access_cidrs:
        return [
            Problem(
                full_key("eksPublicAccessCidrs"),
                "prod's API endpoint must be private",
                "remove the key; reach the API over the VPN or a bastion",
            )
        ]
    return []


def _check_images(c: StackConfig) -> list[Problem]:
    problems = []
    images = {
        "argoControllerImage": c.argo_controller_image,
        "argoServerImage": c.argo_server_image,
        "argoExecutorImage": c.argo_executor_image,
        "kubectlImage": c.kubectl_image,
    }
    for key, ref in images.items():
        match = PINNED.match(ref)
        if not match:
            problems.append(
                Problem(
                    full_key(key),
                    f"{ref!r} is not pinned by digest",
                    "use <registry>/<repo>:<tag>@sha256:<64 hex> "
                    "(docs/config.md: where the digests come from)",
                )
            )
        elif key in ARGO_IMAGE_KEYS and match["tag"] != c.argo_workflows_version:
            problems.append(
                Problem(
                    full_key(key),
                    f"tag {match['tag']} differs from "
                    f"argoWorkflowsVersion {c.argo_workflows_version}",
                    "controller, server, executor and CRDs share one version",
                )
            )
    return problems


def _check_release(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    problems = []
    for i, repo in enumerate(c.release_scan_images):
        if repo not in c.ecr_repositories:
            problems.append(
                Problem(
                    f"{full_key('releaseScanImages')}[{i}]",
                    f"{repo!r} is not one of ecrRepositories",
                    "scan only repositories the stack creates",
                )
            )
    bad = [s for s in c.release_block_severities if s not in SEVERITIES]
    if bad:
        problems.append(
            Problem(
                full_key("releaseBlockSeverities"), f"unknown {bad}", f"use {', '.join(SEVERITIES)}"
            )
        )
    key = full_key("githubToken")
    if c.github_token is not None and key not in secret_keys:
        problems.append(
            Problem(key, "is stored in plaintext", "pulumi config set --secret githubToken <token>")
        )
    return problems
