"""Helpers for tests that run the real stack program offline (offline.runner)."""

from __future__ import annotations

import json

import pytest

from offline.recorder import OfflinePlan, RegisteredResource
from offline.runner import run_offline

STACKS = ("dev", "prod")
_cache: dict[str, OfflinePlan] = {}


def plan_for(stack: str) -> OfflinePlan:
    """The offline plan of a committed stack file, run once per test session."""
    if stack not in _cache:
        _cache[stack] = run_offline(stack)
    return _cache[stack]


def by_id(plan: OfflinePlan, type_token: str) -> dict[str, RegisteredResource]:
    """Resources of one type keyed by the ID the (mock) provider gave them."""
    return {r.id: r for r in plan.of_type(type_token)}


def k8s_named(plan: OfflinePlan, kind: str, name: str) -> RegisteredResource:
    """The one Kubernetes object of ``kind`` (``Secret``, ``CronWorkflow``) named ``name``."""
    (found,) = [
        r
        for r in plan.resources
        if r.type.startswith("kubernetes:")
        and r.type.endswith(f":{kind}")
        and r.inputs.get("metadata", {}).get("name") == name
    ]
    return found


def role_policy_statements(plan: OfflinePlan, role_suffix: str) -> list[dict]:
    """The statements of the one inline role policy whose name ends in ``role_suffix``."""
    (policy,) = [
        p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith(role_suffix)
    ]
    return json.loads(policy.inputs["policy"])["Statement"]


def string_leaves(value, path=""):
    """(dotted path, string) for every string inside nested inputs, paths as ``is_secret`` takes."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from string_leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from string_leaves(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def role_policy_attachments(plan: OfflinePlan, role_name: str) -> dict[str, str]:
    """Managed policy name -> URN of the attachments named after an IAM role (`<role>-<n>`)."""
    return {
        a.inputs["policyArn"].rsplit("/", 1)[1]: a.urn
        for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith(f"{role_name}-")
    }


def component_of(plan: OfflinePlan, r: RegisteredResource) -> RegisteredResource:
    parent = plan.by_urn(r.parent)
    assert not parent.custom, f"{r.name} is not parented to a component"
    return parent


@pytest.fixture(params=STACKS)
def stack_plan(request) -> OfflinePlan:
    """The offline plan of each committed stack (dev, prod): tests using it run for both."""
    return plan_for(request.param)
