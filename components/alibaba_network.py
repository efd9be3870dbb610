"""Alibaba Cloud network: a VPC and one vSwitch per zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass
class AlibabaNetworkArgs:
    """Inputs of ``AlibabaNetwork``; CIDRs come already planned and validated (railyard.config)."""

    vpc_cidr: str
    """CIDR of the VPC."""
    zones: Sequence[str]
    """Zones, at least two: the dual-tunnel VPN gateway needs a vSwitch in each of two zones."""
    vswitch_cidrs: Sequence[str]
    """One vSwitch CIDR per zone, in zone order."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every resource (Alibaba has no provider-level default tags)."""


class AlibabaNetwork(pulumi.ComponentResource):
    """The VPC the build farm, the VPN gateway and (later) internal load balancers live in."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    vswitch_ids: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: AlibabaNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:network:AlibabaNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if len(args.zones) < 2:
            raise ValueError("AlibabaNetwork needs at least two zones for the dual-tunnel VPN")

        vpc = alicloud.vpc.Network(
            f"{name}-vpc",
            vpc_name=name,
            cidr_block=args.vpc_cidr,
            description="railyard: Android build farm and China delivery",
            tags=dict(args.tags),
            opts=child,
        )
        vswitches = [
            alicloud.vpc.Switch(
                f"{name}-{zone}",
                vswitch_name=f"{name}-{zone}",
                vpc_id=vpc.id,
                zone_id=zone,
                cidr_block=cidr,
                tags=dict(args.tags),
                opts=child,
            )
            for zone, cidr in zip(args.zones, args.vswitch_cidrs, strict=True)
        ]

        self.vpc_id = vpc.id
        self.vpc_cidr = args.vpc_cidr
        self.vswitch_ids = [v.id for v in vswitches]
        self.register_outputs({"vpc_id": self.vpc_id, "vswitch_ids": self.vswitch_ids})
