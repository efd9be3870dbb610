"""``load``: raw config values in, a validated ``StackConfig`` (or every problem) out."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from railyard import cidr, ipsec
from railyard.config import delivery_checks, network_checks, provider_keys, release_checks
from railyard.config.errors import ConfigError, Problem, excerpt
from railyard.config.model import FIELDS_BY_KEY, PROJECT, SECRET_KEYS, StackConfig, full_key


def _example(key: str) -> str:
    field = FIELDS_BY_KEY[key][1]
    if not field.examples:
        return ""
    example = field.examples[0]
    shown = json.dumps(example) if isinstance(example, list) else str(example)
    return f"set {key} to a value like {shown}"


def load(raw: Mapping[str, Any], secret_keys: Collection[str] = ()) -> StackConfig:
    """Validate raw config (full keys -> values) into a ``StackConfig``, or raise ``ConfigError``.

    ``raw`` may hold keys of other namespaces (providers); only ``railyard:*`` keys must be known.
    Planned values (subnets, vSwitches, tunnel /30s) are filled in when not given.
    """
    problems = _unknown_keys(raw)
    values = {k: v for k, v in raw.items() if k in FIELDS_BY_KEY}
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as e:
        problems += [_from_pydantic(err) for err in e.errors()]
        raise ConfigError(problems) from None
    config, plan_problems = _fill_plans(config)
    problems += plan_problems
    if not plan_problems:
        problems += network_checks.check(config, secret_keys)
        problems += delivery_checks.check(config)
        problems += release_checks.check(config, secret_keys)
    if problems:
        raise ConfigError(problems)
    return config


def _unknown_keys(raw: Mapping[str, Any]) -> list[Problem]:
    problems = []
    for key in raw:
        if key.startswith(f"{PROJECT}:") and key not in FIELDS_BY_KEY:
            close = difflib.get_close_matches(key, FIELDS_BY_KEY, n=1)
            fix = f"did you mean {close[0]}?" if close else "remove it (see docs/config.md)"
            problems.append(Problem(excerpt(key), "is not a railyard config key", fix))
        elif namespace := provider_keys.namespace_of(key):
            known = provider_keys.known_keys(namespace)
            name = key.split(":", 1)[1]
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                fix = f"did you mean {namespace}:{close[0]}?" if close else "remove it"
                problems.append(
                    Problem(excerpt(key), f"is not a config key of the {namespace} provider", fix)
                )
    return problems


def _from_pydantic(err: Mapping[str, Any]) -> Problem:
    loc = err["loc"]
    key = str(loc[0]) if loc else PROJECT
    where = "".join(f"[{p}]" for p in loc[1:])
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    hidden = key in SECRET_KEYS or err["type"] == "missing" or repr(err["input"]) in message
    shown = "" if hidden else f" (got {excerpt(repr(err['input']))})"
    return Problem(key + where, message + shown, _example(key) if key in FIELDS_BY_KEY else "")


def _fill_plans(c: StackConfig) -> tuple[StackConfig, list[Problem]]:
    """Plan what the config leaves empty; a plan that cannot be made is a problem of its key."""
    update: dict[str, Any] = {}
    problems: list[Problem] = []
    if not c.aws_private_subnet_cidrs or not c.aws_public_subnet_cidrs:
        try:
            private, public = cidr.aws_subnet_plan(c.aws_vpc_cidr, len(c.aws_availability_zones))
        except cidr.CidrPlanError as e:
            problems.append(
                Problem(
                    full_key("awsVpcCidr"),
                    str(e),
                    "use a larger VPC or set awsPrivateSubnetCidrs and awsPublicSubnetCidrs",
                )
            )
        else:
            update.setdefault("aws_private_subnet_cidrs", c.aws_private_subnet_cidrs or private)
            update.setdefault("aws_public_subnet_cidrs", c.aws_public_subnet_cidrs or public)
    if not c.alibaba_vswitch_cidrs:
        try:
            update["alibaba_vswitch_cidrs"] = cidr.alibaba_vswitch_plan(
                c.alibaba_vpc_cidr, len(c.alibaba_zones)
            )
        except cidr.CidrPlanError as e:
            problems.append(Problem(full_key("alibabaVpcCidr"), str(e), "use a larger VPC"))
    if not c.vpn_tunnel_inside_cidrs:
        try:
            update["vpn_tunnel_inside_cidrs"] = ipsec.allocate_inside_cidrs(
                c.vpn_tunnel_inside_block
            )
        except ValueError as e:
            problems.append(
                Problem(
                    full_key("vpnTunnelInsideBlock"), str(e), "use a /28 such as 169.254.100.0/28"
                )
            )
    return c.model_copy(update=update), problems
