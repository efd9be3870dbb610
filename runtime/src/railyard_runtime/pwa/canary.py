"""``pwa canary``: the post-deploy gate on the CloudWatch Synthetics canary of the live PWA.

The stack's canary loads the production PWA every few minutes, checks its service worker and
fails its run when web-performance thresholds are breached. After a publish, the release waits
for a run that started after the publish: the earliest-started one that has finished (PASSED
or FAILED) among those started after it decides; a run still RUNNING means wait.

``GetCanaryRuns`` has no paginator and no documented order, so every poll follows NextToken
itself, at most ``MAX_PAGES`` pages of 100 runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import BaseModel, ConfigDict

from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, DeadlineExceeded, StepError, Unreachable

PASSED, FAILED, RUNNING = "PASSED", "FAILED", "RUNNING"
MAX_PAGES = 10
PAGE_SIZE = 100
NAME = re.compile(r"^[0-9a-z_\-]{1,255}$")  # the API's pattern for a canary name


class CanaryRun(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    state: str
    reason: str
    started: datetime
    completed: datetime | None


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _run(item: object) -> CanaryRun | None:
    """A run of the API's answer, or None when it has no id or start time."""
    if not isinstance(item, dict):
        return None
    status = item.get("Status") if isinstance(item.get("Status"), dict) else {}
    timeline = item.get("Timeline") if isinstance(item.get("Timeline"), dict) else {}
    started = _aware(timeline.get("Started"))
    if not item.get("Id") or started is None:
        return None
    return CanaryRun(
        id=str(item["Id"]),
        state=str(status.get("State") or ""),
        reason=str(status.get("StateReason") or status.get("StateReasonCode") or ""),
        started=started,
        completed=_aware(timeline.get("Completed")),
    )


def runs_after(synthetics, name: str, after: datetime) -> list[CanaryRun]:
    """The runs of ``name`` started strictly after ``after``, earliest first."""
    runs: list[CanaryRun] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        args = {"Name": name, "MaxResults": PAGE_SIZE} | ({"NextToken": token} if token else {})
        answer = synthetics.get_canary_runs(**args)
        runs += [r for r in map(_run, answer.get("CanaryRuns") or []) if r and r.started > after]
        token = answer.get("NextToken")
        if not token:
            break
    return sorted(runs, key=lambda r: r.started)


def wait_for_run(
    synthetics,
    name: str,
    after: datetime,
    deadline_seconds: float,
    poll_seconds: float = 15,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = lambda _: None,
) -> CanaryRun:
    """The first finished run of the canary started after ``after``, if it PASSED.

    FAILED is a StepError (exit 1); no finished run by the deadline is DeadlineExceeded
    (exit 4), or Unreachable (exit 3) when the API was failing until then.
    """
    if after.utcoffset() is None:
        raise ValueError("after must be timezone-aware")
    if not NAME.fullmatch(name):
        raise BadInput(
            f"--name {name[:80]!r} is not a canary name (lowercase letters, digits, - and _)"
        )
    give_up = clock() + deadline_seconds
    while True:
        last_error: str | None = None
        running: list[CanaryRun] = []
        try:
            runs = runs_after(synthetics, name, after)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise BadInput(
                    f"--name {name}: no such canary in this account and region "
                    f"(set --name or {StepsEnv.PWA_CANARY})"
                ) from None
            runs, last_error = [], f"{type(e).__name__}: {e}"
        except (BotoConnectionError, HTTPClientError) as e:
            runs, last_error = [], f"{type(e).__name__}: {e}"
        for run in runs:
            if run.state == PASSED:
                return run
            if run.state == FAILED:
                raise StepError(
                    f"the canary's run {run.id} after the publish failed: "
                    f"{run.reason or 'no reason given'}"
                )
            running.append(run)
        report(last_error or (f"run {running[0].id} {running[0].state}" if running else "no run"))
        remaining = give_up - clock()
        if remaining <= 0:
            if last_error:
                raise Unreachable(f"the Synthetics API did not answer for {name}: {last_error}")
            raise DeadlineExceeded(
                f"no canary run of {name} finished after {after.isoformat()} within "
                f"{deadline_seconds:g} s; is the canary running? "
                f"aws synthetics get-canary --name {name}"
            )
        sleep(min(poll_seconds, remaining))
