"""A drift check's answer, and the guard that turns any failure into one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime.errors import StepError

TargetName = Literal["backend", "pwa", "android"]
NOT_CHECKED = "could not be checked"
_EXPECTED: dict[TargetName, str] = {
    "backend": "images tagged {commit}",
    "pwa": "release {commit}",
    "android": "commit {commit}",
}


def expectation(target: TargetName, commit: str) -> str:
    """What a target should run, in a finding's words (a check knows it more exactly)."""
    return _EXPECTED[target].format(commit=commit)


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
