"""``android build``: submit through the farm's load balancer, follow the job to its host.

The job belongs to the agent that accepted it (its response names that host). The client
long-polls that host; it rides out restarts and network blips with backoff, and when the
host is gone (spot reclaim, scale-in: unreachable for ``host_lost_after`` seconds, or it no
longer knows the job) or reports the job interrupted, it submits again through the load
balancer, a bounded number of times. Every wait is bounded by one total deadline.

The token goes to the load balancer and to job hosts inside the farm's network only: a host
named by an answer must be an IP address in ``agent_networks`` (default the private ranges),
else the step stops before sending anything there.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from railyard_runtime.agent.jobs import COMMIT, Job, State
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, DeadlineExceeded, StepError, Unreachable

TRANSIENT_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PRIVATE_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
"""Where a farm's agents live by default (VPC addresses): job hosts must be inside."""


def parse_networks(text: str, option: str = "--agent-network") -> tuple[Network, ...]:
    """Comma-separated CIDRs; a bad one is named with the fix."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise BadInput(
                f"{option} {part!r}: not a network; give CIDRs such as 10.60.0.0/16, "
                "comma-separated"
            ) from None
    if not networks:
        raise BadInput(f"{option}: empty; give the farm's CIDRs such as 10.60.0.0/16")
    return tuple(networks)


@dataclass(frozen=True)
class BuildPolicy:
    deadline_seconds: float = 3600
    """Total time from the first submission to a finished build."""
    request_timeout: float = 10
    """Connect/read timeout of one request (a long poll gets ``wait_seconds`` more)."""
    wait_seconds: float = 25
    """How long one long poll may hang at the agent (under the NLB's idle timeout)."""
    max_submits: int = 3
    """Submissions through the load balancer, the first included."""
    host_lost_after: float = 60
    """Seconds the owning host may be unreachable before the job is submitted elsewhere."""
    unreachable_after: float = 120
    """Seconds the load balancer may be unreachable before the step gives up (exit 3)."""
    backoff_initial: float = 0.5
    backoff_max: float = 10
    agent_networks: Sequence[Network] = parse_networks(PRIVATE_NETWORKS)
    """Job hosts (which get the token) must be IP addresses inside these networks."""


class BuildFailed(StepError):
    pass


class _Lost(Exception):
    """The owning host cannot give us the job any more."""


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float = 0):
        super().__init__(message)
        self.retry_after = retry_after


class AgentClient:
    def __init__(self, token: str, policy: BuildPolicy, http: httpx.Client | None = None):
        self.policy = policy
        self.http = http or httpx.Client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, url: str, timeout: float, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(
                method, url, headers=self.headers, timeout=timeout, **kwargs
            )
        except httpx.TransportError as e:
            raise _Transient(f"{type(e).__name__} from {url}") from e
        if response.status_code in TRANSIENT_STATUS:
            raise _Transient(
                f"HTTP {response.status_code} from {url}: {_message(response)}",
                _retry_after(response),
            )
        if response.status_code == 401:
            raise BadInput(
                f"the build agent refused the token: check {StepsEnv.AGENT_TOKEN}(_FILE) against "
                "the stack output buildAgentToken"
            )
        if response.status_code == 404:
            raise _Lost(f"{url} answered 404")
        if response.status_code >= 400:
            raise BadInput(f"the build agent refused the request: {_message(response)}")
        return response

    def submit(self, base_url: str, commit: str) -> Job:
        p = self.policy
        r = self._call("POST", f"{base_url}/builds", p.request_timeout, json={"commit": commit})
        return _job(r)

    def wait(self, job: Job, timeout: float) -> Job:
        r = self._call(
            "GET",
            f"{job.host}/builds/{job.id}/wait",
            timeout + self.policy.request_timeout,
            params={"state": job.state.value, "timeout": f"{timeout:.1f}"},
        )
        return _job(r)


def _job(response: httpx.Response) -> Job:
    try:
        return Job.model_validate(response.json())
    except (ValueError, ValidationError) as e:
        raise BadInput(
            f"{response.request.url} answered HTTP {response.status_code} with no build job "
            f"({str(e).splitlines()[0][:200]}); is --agent-url the farm's load balancer?"
        ) from None


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)[:500]
    except (ValueError, AttributeError):
        return response.text[:200]


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else 0


def check_host(host: str, networks: Sequence[Network]) -> None:
    """Refuse a job host outside the farm: it would get the bearer token."""
    shown = host if len(host) <= 200 else f"{host[:200]}..."  # an answer's text, bounded
    allowed = ",".join(str(n) for n in networks)
    fix = (
        f"the token is only sent to IP addresses in --agent-network {allowed} "
        f"({StepsEnv.AGENT_NETWORK}); if the farm's agents really live there, add their network"
    )
    try:
        url = httpx.URL(host)
        ip = ipaddress.ip_address(url.host)
    except (httpx.InvalidURL, ValueError):
        raise BadInput(
            f"the job's host {shown!r} is not http://<IP address>:<port>; {fix}"
        ) from None
    if (
        url.scheme not in ("http", "https")
        or url.userinfo
        or url.path not in ("", "/")
        or url.query
    ):
        raise BadInput(f"the job's host {shown!r} is not http://<IP address>:<port>; {fix}")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not any(ip in n for n in networks):
        raise BadInput(f"the job's host {shown} is outside the farm's network: {fix}")


def build(
    commit: str,
    load_balancer_url: str,
    token: str,
    policy: BuildPolicy = BuildPolicy(),
    on_event: Callable[[str], None] = lambda _: None,
    client: AgentClient | None = None,
) -> Job:
    """The finished job with its artifact URL; raises with the exit code that says why not."""
    commit = commit.strip().lower()
    if not COMMIT.match(commit):
        raise BadInput(f"--commit {commit!r}: must be a git commit SHA (7-40 hex characters)")
    client = client or AgentClient(token, policy)
    clock = _Clock(policy)
    reason = ""
    for attempt in range(1, policy.max_submits + 1):
        job = clock.retry(
            lambda: client.submit(load_balancer_url.rstrip("/"), commit),
            f"the load balancer {load_balancer_url}",
        )
        on_event(f"submission {attempt}: job {job.id} on {job.host} is {job.state}")
        job, reason = _follow(client, job, clock, on_event, policy.agent_networks)
        if job is not None and job.state is State.SUCCEEDED:
            return job
        if job is not None and job.state is State.FAILED:
            tail = "\n".join(job.log_tail[-20:])
            raise BuildFailed(f"build {job.id} of {commit} failed: {job.error}\n{tail}".rstrip())
        on_event(f"{reason}; submitting again through the load balancer")
    raise Unreachable(f"gave up after {policy.max_submits} submissions of {commit}; last: {reason}")


def _follow(
    client: AgentClient, job: Job, clock: _Clock, on_event, networks: Sequence[Network]
) -> tuple[Job | None, str]:
    """Long-poll the owning host until the job ends, or say why it cannot be followed."""
    last_contact = time.monotonic()
    failures = 0
    while not job.state.is_final:
        check_host(job.host, networks)  # every answer names the host: checked before each call
        try:
            seen = job.state
            job = client.wait(job, min(client.policy.wait_seconds, clock.remaining()))
            last_contact, failures = time.monotonic(), 0
            if job.state is not seen:
                on_event(f"job {job.id} is {job.state}")
        except _Lost:
            return None, f"{job.host} no longer knows job {job.id}"
        except _Transient as e:
            if time.monotonic() - last_contact > client.policy.host_lost_after:
                return None, f"{job.host} unreachable for {client.policy.host_lost_after:g} s ({e})"
            failures += 1
            clock.sleep(failures, e.retry_after)
    if job.state is State.INTERRUPTED:
        return job, f"job {job.id} was interrupted on {job.host} ({job.error})"
    return job, ""


class _Clock:
    def __init__(self, policy: BuildPolicy):
        self.policy = policy
        self.deadline = time.monotonic() + policy.deadline_seconds

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(
                f"the build did not finish within --deadline {self.policy.deadline_seconds:g} s"
            )
        return left

    def sleep(self, failures: int, at_least: float = 0) -> None:
        """Exponential backoff with jitter; at least what the server asked (Retry-After)."""
        p = self.policy
        delay = min(p.backoff_max, p.backoff_initial * 2 ** (failures - 1))
        time.sleep(min(max(delay * random.uniform(0.5, 1.0), at_least), self.remaining()))

    def retry(self, call: Callable[[], Job], what: str) -> Job:
        started, failures = time.monotonic(), 0
        while True:
            self.remaining()
            try:
                return call()
            except _Transient as e:
                if time.monotonic() - started > self.policy.unreachable_after:
                    raise Unreachable(
                        f"{what} did not answer for {self.policy.unreachable_after:g} s ({e})"
                    ) from e
                failures += 1
                self.sleep(failures, e.retry_after)
            except _Lost as e:
                raise Unreachable(f"{what} has no build API ({e})") from e
