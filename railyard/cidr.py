"""CIDR planning: subnets carved from a VPC, overlap checks. Pure, no Pulumi."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Network

# AWS allows subnets from /16 to /28; the plan below needs a VPC large enough that a public
# subnet (six bits below the VPC prefix) is still at least a /28.
SMALLEST_PLANNABLE_VPC_PREFIX = 22
MAX_PLANNED_ZONES = 6


class CidrPlanError(ValueError):
    """A CIDR plan cannot be made from the given ranges."""


def network(value: str) -> IPv4Network:
    """Parse a strict IPv4 CIDR (host bits must be zero)."""
    return IPv4Network(value, strict=True)


def aws_subnet_plan(vpc: IPv4Network, zones: int) -> tuple[list[IPv4Network], list[IPv4Network]]:
    """Private and public subnets, one of each per availability zone.

    The VPC is split in eight blocks (prefix + 3). Private subnets take blocks 0..zones-1: they
    hold the EKS nodes and, with the VPC CNI, every pod IP, so they get the room. The last block
    is split again in eight (prefix + 6) for the public subnets, which only hold NAT gateways and
    load balancers. Block 6 stays free for later use. Returns ``(private, public)``.
    """
    if not 1 <= zones <= MAX_PLANNED_ZONES:
        raise CidrPlanError(f"can plan 1 to {MAX_PLANNED_ZONES} zones, got {zones}")
    if vpc.prefixlen > SMALLEST_PLANNABLE_VPC_PREFIX:
        raise CidrPlanError(
            f"{vpc} is too small to plan subnets: use a /{SMALLEST_PLANNABLE_VPC_PREFIX} or larger"
        )
    blocks = list(vpc.subnets(prefixlen_diff=3))
    public = list(blocks[-1].subnets(prefixlen_diff=3))
    return blocks[:zones], public[:zones]


def alibaba_vswitch_plan(vpc: IPv4Network, zones: int) -> list[IPv4Network]:
    """One vSwitch per zone, each a sixteenth of the VPC (a /20 in a /16)."""
    if not 1 <= zones <= 16:
        raise CidrPlanError(f"can plan 1 to 16 zones, got {zones}")
    if vpc.prefixlen > 25:
        raise CidrPlanError(f"{vpc} is too small to plan vSwitches: use a /25 or larger")
    return list(vpc.subnets(prefixlen_diff=4))[:zones]


def overlapping_pairs(named: Iterable[tuple[str, IPv4Network]]) -> list[tuple[str, str]]:
    """Names of every pair of ranges that overlap, in input order."""
    items = list(named)
    return [
        (a_name, b_name)
        for i, (a_name, a) in enumerate(items)
        for b_name, b in items[i + 1 :]
        if a.overlaps(b)
    ]


def outside(parent: IPv4Network, children: Sequence[IPv4Network]) -> list[IPv4Network]:
    """The children that are not inside ``parent``."""
    return [c for c in children if not c.subnet_of(parent)]
