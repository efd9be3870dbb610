"""Run railyard's policy pack in-process over an offline plan.

The engine hands policies each resource's inputs (resource policies) and every resource's
outputs with parents and dependencies (stack policies), wrapped in read-only proxies that raise
on values unknown during preview. This runner builds the same arguments from what the real
program registered under mocks, so a verdict here is the verdict `pulumi preview
--policy-pack policy` gives, and it knows one thing more: which inputs arrived as secrets.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from offline.recorder import OfflinePlan, RegisteredResource
from offline.stack_files import PROJECT_ROOT
from railyard.config import ConfigError, Problem

POLICY_DIR = PROJECT_ROOT / "policy"
DEFAULT_POLICY_CONFIG = POLICY_DIR / "config.json"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

from railyard_policy import POLICIES  # noqa: E402
from railyard_policy.support import OfflineFacts, offline_facts  # noqa: E402

PACK_ENFORCEMENT = EnforcementLevel.MANDATORY  # as policy/__main__.py builds the pack


@dataclass(frozen=True)
class Verdict:
    policy: str
    enforcement: str  # "mandatory" | "advisory"
    urn: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.enforcement == EnforcementLevel.MANDATORY.value


@dataclass(frozen=True)
class PolicySettings:
    enforcement: EnforcementLevel
    config: dict[str, Any]


def load_policy_config(
    path: Path | None = DEFAULT_POLICY_CONFIG, policies: list[Policy] = POLICIES
) -> dict[str, PolicySettings]:
    """Per-policy enforcement and config, from a `--policy-pack-config` JSON file.

    The file format is the engine's: ``{"all": level, "<policy>": level | {"enforcementLevel":
    level, <property>: value}}``. Schema defaults fill what the file leaves out.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(
                [Problem(str(path), f"cannot read policy config: {e}", "fix the JSON")]
            ) from None
    if not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), "is not a JSON object", 'use {"<policy>": ...}')])
    known = {p.name: p for p in policies}
    levels = {e.value for e in EnforcementLevel}
    problems = [
        Problem(f"{path}: {name}", "no such policy", f"use one of {sorted(known)}")
        for name in raw
        if name != "all" and name not in known
    ]
    settings: dict[str, PolicySettings] = {}
    for name, policy in known.items():
        entry = raw.get(name, {})
        if not isinstance(entry, str | dict):
            problems.append(Problem(f"{path}: {name}", f"{entry!r}", "use a level or an object"))
            entry = {}
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        level = entry.pop("enforcementLevel", None) or raw.get("all")
        if level is not None and level not in levels:
            problems.append(
                Problem(f"{path}: {name}", f"enforcementLevel {level!r}", f"use {sorted(levels)}")
            )
            level = None
        schema = (policy.config_schema.properties if policy.config_schema else {}) or {}
        unknown = sorted(set(entry) - set(schema))
        if unknown:
            problems.append(
                Problem(f"{path}: {name}", f"unknown properties {unknown}", f"use {sorted(schema)}")
            )
        config = {k: copy.deepcopy(v["default"]) for k, v in schema.items() if "default" in v}
        config.update(entry)
        enforcement = (
            EnforcementLevel(level) if level else policy.enforcement_level or PACK_ENFORCEMENT
        )
        if enforcement == EnforcementLevel.REMEDIATE:  # the engine reports these as mandatory
            enforcement = EnforcementLevel.MANDATORY
        settings[name] = PolicySettings(enforcement, config)
    if problems:
        raise ConfigError(problems)
    return settings


def evaluate(
    plan: OfflinePlan,
    settings: Mapping[str, PolicySettings] | None = None,
    policies: list[Policy] = POLICIES,
) -> list[Verdict]:
    """Every violation the pack reports for the plan, in resource order."""
    settings = settings if settings is not None else load_policy_config(policies=policies)
    registered = {r.urn: r for r in plan.resources}  # in registration order
    facts = OfflineFacts(plan.stack, lambda urn, path: registered[urn].is_secret(path))
    verdicts: list[Verdict] = []
    with offline_facts(facts):
        for policy in policies:
            setting = settings[policy.name]
            if setting.enforcement == EnforcementLevel.DISABLED:
                continue
            if isinstance(policy, ResourceValidationPolicy):
                for r in plan.resources:
                    args = _resource_args(registered, r, setting.config)
                    _judge(policy, setting, args, r.urn, verdicts)
            elif isinstance(policy, StackValidationPolicy):
                args = StackValidationArgs(_stack_resources(registered), setting.config)
                _judge(policy, setting, args, "", verdicts)
    return verdicts


def _judge(
    policy: Policy, setting: PolicySettings, args: Any, urn: str, verdicts: list[Verdict]
) -> None:
    """Validate; a resource policy's violations belong to ``urn``, a stack policy's to the
    URN it reports (or the stack)."""

    def report(message: str, reported_urn: str | None = None) -> None:
        verdicts.append(
            Verdict(policy.name, setting.enforcement.value, urn or reported_urn or "", message)
        )

    try:
        policy.validate(args, report)  # type: ignore[attr-defined]
    except UnknownValueError as e:  # as the engine: can't judge during preview, don't block
        verdicts.append(Verdict(policy.name, "advisory", urn, f"can't check: {e.message}"))
    except _NotApplicableError:
        pass


def _options(r: RegisteredResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(r.additional_secret_outputs),
        parent=r.parent or None,
    )


def _provider(
    registered: Mapping[str, RegisteredResource], r: RegisteredResource
) -> PolicyProviderResource | None:
    # a provider reference is "<urn>::<id>"
    found = registered.get(r.provider.rsplit("::", 1)[0]) if r.provider else None
    if found is None:
        return None
    props = unknown_checking_proxy(copy.deepcopy(found.inputs))
    return PolicyProviderResource(found.type, props, found.urn, found.name)


def _resource_args(
    registered: Mapping[str, RegisteredResource], r: RegisteredResource, config: Mapping[str, Any]
) -> ResourceValidationArgs:
    # fresh props for every policy, as the engine deserializes them per request
    props = unknown_checking_proxy(copy.deepcopy(r.inputs))
    return ResourceValidationArgs(
        r.type, props, r.urn, r.name, _options(r), _provider(registered, r), dict(config)
    )


def _stack_resources(registered: Mapping[str, RegisteredResource]) -> list[PolicyResource]:
    resources: dict[str, PolicyResource] = {}
    for r in registered.values():
        props = unknown_checking_proxy(copy.deepcopy(r.outputs or r.inputs))
        resources[r.urn] = PolicyResource(
            r.type, props, r.urn, r.name, _options(r), _provider(registered, r), None, [], {}
        )
    for r in registered.values():
        resource = resources[r.urn]
        resource.parent = resources.get(r.parent)
        resource.dependencies = [resources[u] for u in r.dependencies if u in resources]
        resource.property_dependencies = {
            key: [resources[u] for u in urns if u in resources]
            for key, urns in r.property_dependencies.items()
        }
    return list(resources.values())
