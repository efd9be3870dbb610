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
    nat_gateway: bool = True
    """Internet egress for hosts without public IPs (build hosts fetch Gradle dependencies)."""


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

        if args.nat_gateway:
            self._nat(name, vpc, vswitches, args)

        self.vpc_id = vpc.id
        self.vpc_cidr = args.vpc_cidr
        self.vswitch_ids = [v.id for v in vswitches]
        self.register_outputs({"vpc_id": self.vpc_id, "vswitch_ids": self.vswitch_ids})

    def _nat(self, name, vpc, vswitches, args: AlibabaNetworkArgs) -> None:
        """An enhanced NAT gateway with one EIP, SNAT for every vSwitch."""
        child = pulumi.ResourceOptions(parent=self)
        nat = alicloud.vpc.NatGateway(
            f"{name}-nat",
            nat_gateway_name=f"{name}-nat",
            vpc_id=vpc.id,
            vswitch_id=vswitches[0].id,
            nat_type="Enhanced",
            network_type="internet",
            payment_type="PayAsYouGo",
            internet_charge_type="PayByLcu",
            tags=dict(args.tags),
            opts=child,
        )
        eip = alicloud.ecs.EipAddress(
            f"{name}-nat",
            address_name=f"{name}-nat",
            bandwidth="100",
            internet_charge_type="PayByTraffic",
            payment_type="PayAsYouGo",
            tags=dict(args.tags),
            opts=child,
        )
        association = alicloud.ecs.EipAssociation(
            f"{name}-nat",
            allocation_id=eip.id,
            instance_id=nat.id,
            instance_type="Nat",
            opts=child,
        )
        for zone, vswitch in zip(args.zones, vswitches, strict=True):
            alicloud.vpc.SnatEntry(
                f"{name}-snat-{zone}",
                snat_table_id=nat.snat_table_ids,
                source_vswitch_id=vswitch.id,
                snat_ip=eip.ip_address,
                snat_entry_name=f"{name}-{zone}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[association]),
            )
