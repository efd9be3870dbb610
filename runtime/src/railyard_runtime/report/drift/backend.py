"""The backend check: the digests ECR gives the images tagged with the release's commit,
against the digests every running pod of the backend workload runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

import httpx
from botocore.exceptions import ClientError

from railyard_runtime import rollout
from railyard_runtime.errors import StepError
from railyard_runtime.report.drift import kube
from railyard_runtime.report.drift.findings import Finding

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]: which account and region to ask
ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
REPOSITORY = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,255}$")
MAX_NAMED = 10
"""Pods named in a finding's detail at most; the rest are counted."""


def released_digests(
    ecr, registry: str, repositories: Sequence[str], commit: str
) -> dict[str, str]:
    """Each repository's digest of the image tagged ``commit`` (StepError when there is none)."""
    account = ECR_HOST.match(registry)
    found = {}
    for repo in repositories:
        extra = {"registryId": account[1]} if account else {}
        try:
            answer = ecr.describe_images(
                repositoryName=repo, imageIds=[{"imageTag": commit}], **extra
            )
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "?")
            if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise StepError(f"ECR has no image {repo}:{commit} ({code})") from e
            raise StepError(f"ECR describe-images of {repo}:{commit} failed ({code})") from e
        details = answer.get("imageDetails") or []
        if not details:
            raise StepError(f"ECR has no image {repo}:{commit}")
        found[repo] = details[0]["imageDigest"]
    return found


def ecr_region(registry: str) -> str | None:
    """The region in ``<account>.dkr.ecr.<region>.amazonaws.com``, if it is one."""
    match = ECR_HOST.match(registry)
    return match[2] if match else None


def normalize_registry(registry: str) -> str:
    return registry.strip().removeprefix("https://").rstrip("/")


def parse_workload(workload: str) -> tuple[str, str]:
    """``deployment/<name>`` or ``rollout/<name>`` as (kind, name)."""
    kind, _, name = workload.strip().partition("/")
    if kind not in ("deployment", "rollout") or not rollout.NAME.fullmatch(name):
        raise StepError(
            f"backend workload {workload[:80]!r}: use deployment/<name> or rollout/<name>"
        )
    return kind, name


def check_backend(
    ecr,
    api: rollout.ClusterApi,
    namespace: str,
    workload: str,
    registry: str,
    repositories: Sequence[str],
    commit: str,
    timeout: float = 10,
) -> Finding:
    registry = normalize_registry(registry)
    if not registry or not repositories:
        raise StepError("set the ECR registry and the image repositories (SCAN_IMAGES)")
    bad = [r for r in repositories if not REPOSITORY.fullmatch(r)]
    if bad:
        raise StepError(f"image repository {bad[0][:80]!r} is not an ECR repository name")
    if not rollout.NAMESPACE.fullmatch(namespace):
        raise StepError(f"backend namespace {namespace[:80]!r} is not a namespace name")
    kind, name = parse_workload(workload)
    wanted = released_digests(ecr, registry, repositories, commit)
    expected = "; ".join(f"{repo}@{digest}" for repo, digest in wanted.items())
    with httpx.Client(
        verify=api.verify, timeout=httpx.Timeout(timeout), follow_redirects=False
    ) as http:
        labels = kube.selector(kube.workload(http, api, namespace, kind, name), f"{kind}/{name}")
        pods = [p for p in kube.list_pods(http, api, namespace, labels) if kube.running(p)]
    where = f"{kind}/{name} in {namespace}"
    if not pods:
        return Finding(
            target="backend",
            ok=False,
            expected=expected,
            found="no running pod",
            detail=f"no running pod of {where} (selector {kube.selector_text(labels)})",
        )
    seen: dict[str, dict[str, int]] = {repo: {} for repo in wanted}
    wrong: list[str] = []
    for pod in pods:
        pod_name = str((pod.get("metadata") or {}).get("name") or "?")
        for repo, digest in wanted.items():
            running = kube.digests(pod, registry, repo)
            if not running:
                running = ["none"]
                wrong.append(f"pod {pod_name} runs no image of {repo} (expected {digest})")
            for found in running:
                seen[repo][found] = seen[repo].get(found, 0) + 1
                if found != digest and found != "none":
                    wrong.append(f"pod {pod_name} runs {repo}@{found}, not {digest}")
    found_text = "; ".join(
        f"{repo}{'@' + digest if digest != 'none' else ': none'} ({_pods_text(count)})"
        for repo, digests in seen.items()
        for digest, count in sorted(digests.items())
    )
    if wrong:
        more = len(wrong) - MAX_NAMED
        detail = "; ".join(wrong[:MAX_NAMED]) + (f"; and {more} more" if more > 0 else "")
        return Finding(
            target="backend", ok=False, expected=expected, found=found_text, detail=detail
        )
    return Finding(
        target="backend",
        ok=True,
        expected=expected,
        found=found_text,
        detail=f"{_pods_text(len(pods), 'running ')} of {where} run the images tagged {commit}",
    )


def _pods_text(count: int, kind: str = "") -> str:
    return f"{count} {kind}pod{'s' * (count != 1)}"
