"""The backend workload's running pods and the image digests they run, read from the
Kubernetes API (the backend check's half that is not ECR)."""

from __future__ import annotations

import re

import httpx

from railyard_runtime import rollout
from railyard_runtime.errors import StepError

DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
POD_PAGE = 250
MAX_POD_PAGES = 40


def _get(http: httpx.Client, api: rollout.ClusterApi, path: str, what: str, **params) -> dict:
    answer = api.get(http, path, **params)
    if answer.status_code == 404:
        raise StepError(f"the Kubernetes API has no {what}")
    if answer.status_code in (401, 403):
        raise StepError(
            f"the Kubernetes API refused to show {what} ({answer.status_code}): the drift "
            "check's service account needs get on the workload and list on pods"
        )
    if answer.status_code >= 400:
        raise StepError(f"the Kubernetes API answered {answer.status_code} for {what}")
    found = api.body(answer, what)
    if not isinstance(found, dict):
        raise StepError(f"{what}: the API answered something that is not an object")
    return found


def workload(
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


def selector(obj: object, what: str) -> dict[str, str]:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    chosen = spec.get("selector") if isinstance(spec, dict) else None
    labels = chosen.get("matchLabels") if isinstance(chosen, dict) else None
    if not isinstance(labels, dict) or not labels:
        raise StepError(f"{what} has no spec.selector.matchLabels to find its pods by")
    return {str(k): str(v) for k, v in labels.items()}


def selector_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def list_pods(
    http: httpx.Client, api: rollout.ClusterApi, namespace: str, labels: dict[str, str]
) -> list[dict]:
    """The pods the labels select, every page of them (bounded)."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    what = f"the pods in namespace {namespace!r}"
    params = {"labelSelector": selector_text(labels), "limit": str(POD_PAGE)}
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


def running(pod: dict) -> bool:
    """Running and not on its way out (a terminating pod's digest is no longer served)."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return status.get("phase") == "Running" and not meta.get("deletionTimestamp")


def _names_repository(reference: str, registry: str, repo: str) -> bool:
    reference = reference.removeprefix("docker-pullable://")
    image = f"{registry}/{repo}"
    return reference == image or reference.startswith((f"{image}:", f"{image}@"))


def digests(pod: dict, registry: str, repo: str) -> list[str]:
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
