"""Wait for an Argo Rollout from inside the cluster, without the kubectl plugin.

A Rollout is done when its controller has seen the latest spec
(``status.observedGeneration == metadata.generation``) and its phase is ``Healthy``
(success) or ``Degraded`` (failure, with ``status.message``). ``Progressing`` and ``Paused``
(a canary step, or the controller holding it) mean wait. The Rollout is read from the
Kubernetes API with the pod's own service-account token.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, DeadlineExceeded, StepError, Unreachable

HEALTHY, DEGRADED, PROGRESSING = "Healthy", "Degraded", "Progressing"
# a Kubernetes object name (RFC 1123 subdomain) and a namespace (RFC 1123 label)
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MAX_BODY = 4 * 1024 * 1024


def state(rollout: object) -> tuple[str, str]:
    """(``Healthy`` | ``Degraded`` | ``Progressing``, what it says) of a Rollout object."""
    if not isinstance(rollout, dict):
        raise StepError("the API answered something that is not a Rollout object")
    meta = rollout.get("metadata") if isinstance(rollout.get("metadata"), dict) else {}
    status = rollout.get("status") if isinstance(rollout.get("status"), dict) else {}
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if generation is None or str(observed) != str(generation):
        return PROGRESSING, "the controller has not seen the latest spec yet"
    phase = status.get("phase")
    message = str(status.get("message") or "")
    if phase == HEALTHY:
        return HEALTHY, message or "healthy"
    if phase == DEGRADED:
        return DEGRADED, message or "degraded (no message)"
    if status.get("controllerPause") and not status.get("pauseConditions"):
        return PROGRESSING, "paused by the controller"
    return PROGRESSING, f"{phase or 'no phase yet'}{': ' + message if message else ''}"


@dataclass
class ClusterApi:
    """GETs from the Kubernetes API: one Rollout here, workloads and pods for drift."""

    base_url: str
    token: str
    verify: str | bool = True

    @classmethod
    def from_environment(cls) -> ClusterApi:
        token_file = SERVICE_ACCOUNT / "token"
        token = token_file.read_text().strip() if token_file.is_file() else ""
        url = os.environ.get(StepsEnv.KUBE_API_URL)
        if url:
            return cls(url.rstrip("/"), token)
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        if not host or not token:
            raise BadInput(
                f"not in a pod with a service account: set {StepsEnv.KUBE_API_URL} "
                "or run this in the cluster"
            )
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return cls(f"https://{host}:{port}", token, str(SERVICE_ACCOUNT / "ca.crt"))

    def get(self, client: httpx.Client, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return client.get(self.base_url + path, headers=headers, params=params or None)

    @staticmethod
    def body(answer: httpx.Response, what: str) -> object:
        """The answer's JSON, bounded; StepError naming ``what`` for one that is not."""
        if len(answer.content) > MAX_BODY:
            raise StepError(f"{what}: the API's answer is over {MAX_BODY} bytes")
        try:
            return answer.json()
        except ValueError:
            raise StepError(f"{what}: the API answered with something not JSON") from None

    def rollout(self, client: httpx.Client, namespace: str, name: str) -> object:
        path = (
            f"/apis/argoproj.io/v1alpha1/namespaces/{quote(namespace, safe='')}"
            f"/rollouts/{quote(name, safe='')}"
        )
        answer = self.get(client, path)
        if answer.status_code == 404:
            raise BadInput(f"no rollout/{name} in namespace {namespace!r}")
        if answer.status_code in (401, 403):
            raise StepError(
                f"the API refused to show rollout/{name} ({answer.status_code}): the workflow's "
                "service account needs get on rollouts in that namespace"
            )
        if answer.status_code >= 400:
            raise httpx.HTTPStatusError("API error", request=answer.request, response=answer)
        return self.body(answer, f"rollout/{name}")


def wait(
    api: ClusterApi,
    namespace: str,
    name: str,
    timeout: float,
    interval: float = 5.0,
    report: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll until the Rollout is Healthy (its message) or Degraded (StepError, exit 1).

    Unanswered requests are retried until the deadline (then Unreachable, exit 3); a Rollout
    still progressing at the deadline is DeadlineExceeded (exit 4).
    """
    if not NAME.fullmatch(name):
        raise BadInput(f"--name {name[:80]!r} is not a Kubernetes object name (e.g. api)")
    if not NAMESPACE.fullmatch(namespace):
        raise BadInput(f"--namespace {namespace[:80]!r} is not a namespace name (e.g. backend)")
    deadline = clock() + timeout
    last_error: str | None = None
    with httpx.Client(
        verify=api.verify, timeout=httpx.Timeout(10.0), follow_redirects=False
    ) as client:
        while True:
            try:
                phase, message = state(api.rollout(client, namespace, name))
                last_error = None
            except (httpx.TransportError, httpx.HTTPStatusError) as e:
                phase, message, last_error = PROGRESSING, "", f"{type(e).__name__}: {e}"
            if phase == HEALTHY:
                return message
            if phase == DEGRADED:
                raise StepError(f"rollout/{name} is Degraded: {message}")
            report(last_error or message)
            remaining = deadline - clock()
            if remaining <= 0:
                if last_error:
                    raise Unreachable(f"the Kubernetes API did not answer: {last_error}")
                raise DeadlineExceeded(f"rollout/{name} still {message} after {timeout:g}s")
            time.sleep(min(interval, remaining))
