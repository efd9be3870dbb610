"""AWS network: VPC, public and private subnets per AZ, internet gateway, NAT, route tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws


@dataclass
class AwsNetworkArgs:
    """Inputs of ``AwsNetwork``; CIDRs come already planned and validated (railyard.config)."""

    vpc_cidr: str
    """CIDR of the VPC."""
    availability_zones: Sequence[str]
    """Zones to spread over; subnet lists below are in the same order."""
    private_subnet_cidrs: Sequence[str]
    """One private subnet per zone: EKS nodes and pods."""
    public_subnet_cidrs: Sequence[str]
    """One public subnet per zone: NAT gateways and internet-facing load balancers."""
    nat_gateways: Literal["single", "perAz"] = "perAz"
    """``single``: one NAT for all zones (cheap); ``perAz``: one per zone (no cross-AZ SPOF)."""


class AwsNetwork(pulumi.ComponentResource):
    """A VPC ready for EKS: subnets tagged for load balancers, private egress through NAT."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    route_table_ids: list[pulumi.Output[str]]
    """Every route table of the VPC: private ones first, then the public one."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:network:AwsNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = list(args.availability_zones)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # EKS nodes and VPC endpoints need DNS hostnames
            tags={"Name": name},
            opts=child,
        )
        # Take over the default security group and leave it without rules, so nothing that
        # forgets to name a group is reachable by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            tags={"Name": f"{name}-default-deny"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": name}, opts=child)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        public_subnets = [
            self._subnet(name, "public", vpc, zone, cidr, public_rt, "kubernetes.io/role/elb")
            for zone, cidr in zip(zones, args.public_subnet_cidrs, strict=True)
        ]

        nat_zones = zones if args.nat_gateways == "perAz" else zones[:1]
        nats = []
        for zone, subnet in zip(nat_zones, public_subnets, strict=False):
            eip = aws.ec2.Eip(
                f"{name}-nat-{zone}", domain="vpc", tags={"Name": f"{name}-nat-{zone}"}, opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{zone}",
                    allocation_id=eip.id,
                    subnet_id=subnet.id,
                    tags={"Name": f"{name}-nat-{zone}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        private_subnets, private_rts = [], []
        for i, (zone, cidr) in enumerate(zip(zones, args.private_subnet_cidrs, strict=True)):
            nat = nats[i] if args.nat_gateways == "perAz" else nats[0]
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={"Name": f"{name}-private-{zone}"},
                opts=child,
            )
            subnet = self._subnet(
                name, "private", vpc, zone, cidr, route_table, "kubernetes.io/role/internal-elb"
            )
            private_subnets.append(subnet)
            private_rts.append(route_table)

        self.vpc_id = vpc.id
        self.vpc_cidr = args.vpc_cidr
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_route_table_ids = [rt.id for rt in private_rts]
        self.route_table_ids = [*self.private_route_table_ids, public_rt.id]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "private_route_table_ids": self.private_route_table_ids,
            }
        )

    def _subnet(
        self,
        name: str,
        tier: str,
        vpc: aws.ec2.Vpc,
        zone: str,
        cidr: str,
        route_table: aws.ec2.RouteTable,
        elb_role_tag: str,
    ) -> aws.ec2.Subnet:
        """A subnet of one tier in one zone, tagged for the AWS load balancer controller."""
        subnet = aws.ec2.Subnet(
            f"{name}-{tier}-{zone}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,  # nothing gets a public IP by accident, even here
            tags={"Name": f"{name}-{tier}-{zone}", elb_role_tag: "1"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-{tier}-{zone}",
            subnet_id=subnet.id,
            route_table_id=route_table.id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return subnet
