"""Call a policy the way the engine does: props behind ``unknown_checking_proxy``."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from offline.policies import load_policy_config


def options(additional_secret_outputs: Sequence[str] = ()) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        False, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(additional_secret_outputs), None
    )


def config_of(policy, **overrides: Any) -> dict[str, Any]:
    """The policy's config as the pack's config.json and schema defaults give it."""
    return {**load_policy_config()[policy.name].config, **overrides}


def resource_violations(
    policy,
    type_token: str,
    props: Mapping[str, Any],
    *,
    name: str = "r",
    config: Mapping[str, Any] | None = None,
    additional_secret_outputs: Sequence[str] = (),
) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(
        type_token,
        unknown_checking_proxy(copy.deepcopy(dict(props))),
        f"urn:pulumi:test::railyard::{type_token}::{name}",
        name,
        options(additional_secret_outputs),
        None,
        dict(config if config is not None else config_of(policy)),
    )
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


class Stack:
    """A small stack for stack policies: resources with props and property dependencies."""

    def __init__(self) -> None:
        self.resources: list[PolicyResource] = []

    def add(
        self, type_token: str, name: str, props: Mapping[str, Any], **deps: PolicyResource
    ) -> PolicyResource:
        resource = PolicyResource(
            type_token,
            unknown_checking_proxy(copy.deepcopy(dict(props))),
            f"urn:pulumi:test::railyard::{type_token}::{name}",
            name,
            options(),
            None,
            None,
            list(deps.values()),
            {key: [dep] for key, dep in deps.items()},
        )
        self.resources.append(resource)
        return resource

    def violations(self, policy, config: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        args = StackValidationArgs(
            self.resources, dict(config if config is not None else config_of(policy))
        )
        policy.validate(args, lambda message, urn=None: found.append((urn or "", message)))
        return found
