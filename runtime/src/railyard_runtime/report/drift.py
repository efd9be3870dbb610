"""Drift: what runs, against what the last successful release says should run.

The last successful release is the latest unified release of the environment that ended
Succeeded and rolled nothing back (its commit is what every lane should run). Three checks,
each giving one ``Finding`` and each independent of the others:

- backend: for each ECR repository the release scans (``backend/api``), the digest of the
  image tagged with the commit must be the digest every running pod of the backend workload
  runs for that repository (each container status's ``imageID``); a pod running another
  digest, or no running pod at all, is drift;
- pwa: one pass of ``pwa verify``'s comparison, read only: the live release of every target
  must be the commit and every CDN must serve its entrypoints' bytes;
- android: ``releases/<env>/latest.json`` in the APK bucket must name the commit.

A check that cannot be made (an API out of reach, a missing bucket, settings missing) is a
finding with ``ok`` and ``checked`` false and a detail saying so, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Literal

import httpx
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime import rollout
from railyard_runtime.apk_release import ApkRelease
from railyard_runtime.errors import StepError
from railyard_runtime.events import RUN_TASK, UNIFIED_RELEASE, Lane, PipelineEvent
from railyard_runtime.pwa import release as rel
from railyard_runtime.pwa import verify
from railyard_runtime.pwa.publish import Target as PwaTarget
from railyard_runtime.pwa.store import Bucket
from railyard_runtime.report.dora import Run, runs

TargetName = Literal["backend", "pwa", "android"]
TARGETS: tuple[TargetName, ...] = ("backend", "pwa", "android")
LANES: dict[str, Lane] = {"backend": Lane.BACKEND, "pwa": Lane.PWA, "android": Lane.ANDROID}
NOT_CHECKED = "could not be checked"
DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]: which account and region to ask
ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
REPOSITORY = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,255}$")
POD_PAGE = 250
MAX_POD_PAGES = 40
MAX_NAMED = 10
"""Pods named in a finding's detail at most; the rest are counted."""


class Finding(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)
    target: TargetName
    ok: bool
    expected: str
    found: str
    detail: str
    checked: bool = True
    """False: the check could not be made (``ok`` is False too; ``detail`` says why)."""

    @property
    def drifted(self) -> bool:
        """A difference was seen (not merely a check that could not be made)."""
        return self.checked and not self.ok


def last_release(events: Iterable[PipelineEvent], env: str) -> Run | None:
    """The latest (by end) unified release of ``env`` that ended Succeeded without rolling
    anything back, and says which commit it delivered."""
    best: tuple | None = None
    for run in runs(events, env):
        if run.template != UNIFIED_RELEASE or not run.commit:
            continue
        outcome = run.outcome()
        if outcome is None or not outcome.deployed:
            continue
        if best is None or (outcome.end, run.uid) > best[:2]:
            best = (outcome.end, run.uid, run)
    return best[2] if best else None


def feature_of(run: Run) -> str:
    """The feature (Kanban card) of the run: what its own last event says."""
    own = [e for (task, _), e in run.events.items() if task == RUN_TASK and e.terminal]
    return max(own or run.events.values(), key=lambda e: e.time).feature


def not_checked(target: TargetName, expected: str, reason: str) -> Finding:
    return Finding(
        target=target,
        ok=False,
        expected=expected,
        found="unknown",
        detail=f"{NOT_CHECKED}: {reason}",
        checked=False,
    )


def guarded(target: TargetName, expected: str, check: Callable[[], Finding]) -> Finding:
    """``check()``, or a finding saying it could not be made: whatever went wrong."""
    try:
        return check()
    except StepError as e:
        return not_checked(target, expected, e.message)
    except Exception as e:  # an SDK's or the network's: a scheduled check reports, never raises
        return not_checked(target, expected, f"{type(e).__name__}: {e}")


# --- backend ----------------------------------------------------------------------------


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
    return guarded(
        "backend",
        f"images tagged {commit}",
        lambda: _check_backend(
            ecr, api, namespace, workload, registry, repositories, commit, timeout
        ),
    )


def _check_backend(
    ecr,
    api: rollout.ClusterApi,
    namespace: str,
    workload: str,
    registry: str,
    repositories: Sequence[str],
    commit: str,
    timeout: float,
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
        labels = _selector(_workload(http, api, namespace, kind, name), f"{kind}/{name}")
        pods = [p for p in _pods(http, api, namespace, labels) if _running(p)]
    where = f"{kind}/{name} in {namespace}"
    if not pods:
        return Finding(
            target="backend",
            ok=False,
            expected=expected,
            found="no running pod",
            detail=f"no running pod of {where} (selector {_selector_text(labels)})",
        )
    seen: dict[str, dict[str, int]] = {repo: {} for repo in wanted}
    wrong: list[str] = []
    for pod in pods:
        pod_name = str((pod.get("metadata") or {}).get("name") or "?")
        for repo, digest in wanted.items():
            running = _digests(pod, registry, repo)
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


def _get(http: httpx.Client, api: rollout.ClusterApi, path: str, what: str, **params) -> dict:
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    answer = http.get(api.base_url + path, headers=headers, params=params or None)
    if answer.status_code == 404:
        raise StepError(f"the Kubernetes API has no {what}")
    if answer.status_code in (401, 403):
        raise StepError(
            f"the Kubernetes API refused to show {what} ({answer.status_code}): the drift "
            "check's service account needs get on the workload and list on pods"
        )
    if answer.status_code >= 400:
        raise StepError(f"the Kubernetes API answered {answer.status_code} for {what}")
    if len(answer.content) > rollout.MAX_BODY:
        raise StepError(f"{what}: the API's answer is over {rollout.MAX_BODY} bytes")
    try:
        found = answer.json()
    except ValueError:
        raise StepError(f"{what}: the API answered with something not JSON") from None
    if not isinstance(found, dict):
        raise StepError(f"{what}: the API answered something that is not an object")
    return found


def _workload(
    http: httpx.Client, api: rollout.ClusterApi, namespace: str, kind: str, name: str
) -> object:
    if kind == "rollout":
        try:
            return api.rollout(http, namespace, name)
        except httpx.HTTPStatusError as e:
            raise StepError(
                f"the Kubernetes API answered {e.response.status_code} for rollout/{name}"
            ) from None
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    return _get(http, api, path, f"deployment/{name} in namespace {namespace!r}")


def _selector(obj: object, what: str) -> dict[str, str]:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    selector = spec.get("selector") if isinstance(spec, dict) else None
    labels = selector.get("matchLabels") if isinstance(selector, dict) else None
    if not isinstance(labels, dict) or not labels:
        raise StepError(f"{what} has no spec.selector.matchLabels to find its pods by")
    return {str(k): str(v) for k, v in labels.items()}


def _selector_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _pods(
    http: httpx.Client, api: rollout.ClusterApi, namespace: str, labels: dict[str, str]
) -> list[dict]:
    path = f"/api/v1/namespaces/{namespace}/pods"
    what = f"the pods in namespace {namespace!r}"
    params = {"labelSelector": _selector_text(labels), "limit": str(POD_PAGE)}
    pods: list[dict] = []
    for _ in range(MAX_POD_PAGES):
        page = _get(http, api, path, what, **params)
        items = page.get("items")
        if not isinstance(items, list):
            raise StepError(f"{what}: the API answered something that is not a pod list")
        pods += [p for p in items if isinstance(p, dict)]
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return pods
        params["continue"] = str(token)
    raise StepError(f"{what}: more than {POD_PAGE * MAX_POD_PAGES} pods")


def _running(pod: dict) -> bool:
    """Running and not on its way out (a terminating pod's digest is no longer served)."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return status.get("phase") == "Running" and not meta.get("deletionTimestamp")


def _names_repository(reference: str, registry: str, repo: str) -> bool:
    reference = reference.removeprefix("docker-pullable://")
    image = f"{registry}/{repo}"
    return reference == image or reference.startswith((f"{image}:", f"{image}@"))


def _digests(pod: dict, registry: str, repo: str) -> list[str]:
    """The digests the pod's containers of ``repo`` run (``no digest`` for a container whose
    status names none yet)."""
    spec = pod.get("spec") or {}
    specified = {
        c.get("name"): str(c.get("image") or "")
        for c in spec.get("containers") or []
        if isinstance(c, dict)
    }
    found = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if not isinstance(status, dict):
            continue
        image_id = str(status.get("imageID") or "")
        references = (str(status.get("image") or ""), image_id, specified.get(status.get("name")))
        if any(r and _names_repository(r, registry, repo) for r in references):
            digest = DIGEST.search(image_id)
            found.append(digest[1] if digest else "no digest")
    return found


# --- pwa --------------------------------------------------------------------------------


def check_pwa(targets: Sequence[PwaTarget], commit: str, deadline_seconds: float = 10) -> Finding:
    return guarded(
        "pwa", f"release {commit}", lambda: _check_pwa(targets, commit, deadline_seconds)
    )


def _check_pwa(targets: Sequence[PwaTarget], commit: str, deadline_seconds: float) -> Finding:
    """``pwa verify``'s comparison, once, and without marking anything last-known-good: a
    scheduled check reads, it never writes to the buckets."""
    with_cdn = [t for t in targets if t.cdn is not None]
    if not with_cdn:
        raise StepError("no CDN URL to check: set the CloudFront and/or Alibaba CDN URL")
    expected = f"release {commit} on {', '.join(t.name for t in with_cdn)}"
    problems: list[str] = []
    live_of: dict[str, str] = {}
    wanted: list[tuple[PwaTarget, str, str]] = []
    for t in with_cdn:
        raw = t.bucket.get(rel.LIVE)
        live = None if raw is None else t.bucket.parse_model(rel.LIVE, raw, rel.Pointer)
        if live is None:
            live_of[t.name] = "nothing"
            problems.append(f"nothing is published on {t.name}")
            continue
        live_of[t.name] = live.release
        if live.release == rel.KILL_SWITCH:
            problems.append(f"the kill switch is live on {t.name}")
            continue
        if live.release.lower() != commit.lower():
            problems.append(f"{t.name} serves release {live.release}, not {commit}")
            continue
        record = t.bucket.get_model(rel.record_key(live.release), rel.Release)
        if record is None:
            raise StepError(f"{t.name}: the live release {live.release!r} has no record")
        wanted += [(t, url, sha) for url, sha in verify._expected(t, record)]
    with httpx.Client(timeout=deadline_seconds, follow_redirects=True) as http:
        checks = [verify._check(http, t, url, sha) for t, url, sha in wanted]
    problems += [
        f"{c.url} served {c.served_sha256 or 'nothing'}, the release has {c.expected_sha256}"
        for c in checks
        if not c.ok
    ]
    found = "; ".join(
        f"{t.name}: release {live_of[t.name]}"
        + (
            f", {sum(c.ok for c in mine)}/{len(mine)} CDN files match"
            if (mine := [c for c in checks if c.target == t.name])
            else ""
        )
        for t in with_cdn
    )
    if problems:
        return Finding(
            target="pwa", ok=False, expected=expected, found=found, detail="; ".join(problems)
        )
    return Finding(
        target="pwa",
        ok=True,
        expected=expected,
        found=found,
        detail=f"every CDN serves release {commit} ({len(checks)} files)",
    )


# --- android ----------------------------------------------------------------------------


def latest_key(env: str) -> str:
    return f"releases/{env}/latest.json"


def check_android(bucket: Bucket, env: str, commit: str) -> Finding:
    return guarded("android", f"commit {commit}", lambda: _check_android(bucket, env, commit))


def _check_android(bucket: Bucket, env: str, commit: str) -> Finding:
    key = latest_key(env)
    expected = f"commit {commit}"
    latest = bucket.get_model(key, ApkRelease)
    if latest is None:
        return Finding(
            target="android",
            ok=False,
            expected=expected,
            found="nothing published",
            detail=f"{bucket.name}: no {key}",
        )
    found = f"commit {latest.commit} ({latest.apk}, feature {latest.feature})"
    if latest.commit.lower() != commit.lower():
        return Finding(
            target="android",
            ok=False,
            expected=expected,
            found=found,
            detail=f"{key} names commit {latest.commit}, not {commit}",
        )
    return Finding(
        target="android",
        ok=True,
        expected=expected,
        found=found,
        detail=f"{key} names the release's commit",
    )


# --- what the command reports -----------------------------------------------------------


def drift_task(finding: Finding, drifted: Sequence[Finding]) -> str:
    """``drift``, or ``drift-<target>`` when several targets drifted (each its own event)."""
    return "drift" if len(drifted) <= 1 else f"drift-{finding.target}"


def metric_data(findings: Iterable[Finding], env: str, at: datetime, name: str) -> list[dict]:
    """A value per finding: 1 where it is not known to match (drift, or not checked), 0 else."""
    return [
        {
            "MetricName": name,
            "Dimensions": [{"Name": "Env", "Value": env}, {"Name": "Target", "Value": f.target}],
            "Timestamp": at,
            "Value": 0.0 if f.ok else 1.0,
            "Unit": "Count",
        }
        for f in findings
    ]
