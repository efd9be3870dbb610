"""What every railyard policy shares: exemptions, the stack being checked, secret inputs.

Policies run in two places: inside the Pulumi engine (``pulumi preview --policy-pack policy``)
and in-process over the offline plan. The engine tells a policy pack the stack through
``PULUMI_STACK``; the in-process runner says it, and which inputs arrived as secrets, through
``offline_facts`` (the Python policy SDK unwraps secrets before a policy sees them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

EXEMPT_RESOURCES = "exemptResources"
_EXEMPT_SCHEMA = {
    EXEMPT_RESOURCES: {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Resources this policy skips: exact logical names or URNs.",
    }
}


@dataclass(frozen=True)
class OfflineFacts:
    """What the in-process runner knows that the engine does not hand to Python policies."""

    stack: str
    secret_input: Callable[[str, str], bool] | None = None
    """(URN, input path like ``a.b`` or ``a[0].c``) -> whether it arrived as a secret."""


_facts: ContextVar[OfflineFacts | None] = ContextVar("railyard_policy_offline", default=None)


@contextlib.contextmanager
def offline_facts(facts: OfflineFacts) -> Iterator[None]:
    token = _facts.set(facts)
    try:
        yield
    finally:
        _facts.reset(token)


def current_stack() -> str:
    facts = _facts.get()
    return facts.stack if facts else os.environ.get("PULUMI_STACK", "")


def input_is_secret(urn: str, path: str, additional_secret_outputs: Sequence[str]) -> bool:
    """Whether the input at ``path`` is kept secret.

    Offline the runner knows exactly which inputs arrived as secrets. Under the engine the
    Python SDK has already unwrapped them, so the best signal left is the resource's
    ``additionalSecretOutputs`` (provider schemas that mark a field secret add it there too).
    """
    facts = _facts.get()
    if facts is not None and facts.secret_input is not None:
        return facts.secret_input(urn, path)
    top = path.split(".", 1)[0].split("[", 1)[0]
    return top in set(additional_secret_outputs)


def is_exempt(config: Mapping[str, Any], name: str, urn: str) -> bool:
    exempt = config.get(EXEMPT_RESOURCES) or ()
    return name in exempt or urn in exempt


def _schema(extra: Mapping[str, Any] | None) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**_EXEMPT_SCHEMA, **(extra or {})})


ResourceCheck = Callable[[ResourceValidationArgs], Iterable[str]]
StackCheck = Callable[[StackValidationArgs], Iterable[tuple[str, str]]]


def resource_policy(
    name: str,
    description: str,
    check: ResourceCheck,
    enforcement_level: EnforcementLevel = MANDATORY,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationPolicy:
    """A resource policy whose ``check`` yields one message per violation."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if is_exempt(args.get_config(), args.name, args.urn):
            return
        for message in check(args):
            report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=_schema(config),
    )


def stack_policy(
    name: str,
    description: str,
    check: StackCheck,
    enforcement_level: EnforcementLevel = MANDATORY,
    config: Mapping[str, Any] | None = None,
) -> StackValidationPolicy:
    """A stack policy whose ``check`` yields ``(urn, message)`` per violation."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config_ = args.get_config()
        names = {r.urn: r.name for r in args.resources}
        for urn, message in check(args):
            if not is_exempt(config_, names.get(urn, ""), urn):
                report(message, urn or None)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=_schema(config),
    )


def dependents(resources: Iterable[Any], prop: str, target_urn: str) -> list[Any]:
    """Resources whose input ``prop`` was computed from the resource ``target_urn``."""
    return [
        r
        for r in resources
        if any(d.urn == target_urn for d in r.property_dependencies.get(prop, ()))
    ]


def get(props: Mapping[str, Any], *path: str | int, default: Any = None) -> Any:
    """Walk mappings/sequences; ``default`` where a step is missing."""
    value: Any = props
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return default
    return value
