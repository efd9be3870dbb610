"""Both networks as the real program registers them for dev and prod."""

import json
from ipaddress import IPv4Network as Net

from offline.stack_files import load_stack_config
from railyard import config
from tests.harness import by_id, component_of

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
NAT = "aws:ec2/natGateway:NatGateway"


def cfg(plan) -> config.StackConfig:
    return config.load(*load_stack_config(plan.stack))


def test_vpc_and_subnets_per_zone_with_eks_load_balancer_tags(stack_plan):
    c = cfg(stack_plan)
    vpc = stack_plan.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == str(c.aws_vpc_cidr)
    assert vpc.inputs["enableDnsHostnames"] is True
    subnets = stack_plan.of_type(SUBNET)
    assert len(subnets) == 2 * len(c.aws_availability_zones) >= 4
    public = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert {s.inputs["availabilityZone"] for s in public} == set(c.aws_availability_zones)
    assert {s.inputs["availabilityZone"] for s in private} == set(c.aws_availability_zones)
    assert all(not s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
    for s in subnets:
        assert s.inputs["vpcId"] == vpc.id
        assert Net(s.inputs["cidrBlock"]).subnet_of(c.aws_vpc_cidr)


def test_nat_gateways_one_in_dev_one_per_az_in_prod(stack_plan):
    zones = cfg(stack_plan).aws_availability_zones
    nats = stack_plan.of_type(NAT)
    assert len(nats) == {"dev": 1, "prod": len(zones)}[stack_plan.stack]
    public_subnets = by_id(stack_plan, SUBNET)
    for nat in nats:
        assert public_subnets[nat.inputs["subnetId"]].inputs["tags"]["kubernetes.io/role/elb"]
        assert nat.inputs["allocationId"] in by_id(stack_plan, "aws:ec2/eip:Eip")


def test_private_route_tables_leave_through_nat_in_their_own_zone_in_prod(stack_plan):
    nats = by_id(stack_plan, NAT)
    subnets = by_id(stack_plan, SUBNET)
    tables = by_id(stack_plan, ROUTE_TABLE)
    for assoc in stack_plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        subnet, table = subnets[assoc.inputs["subnetId"]], tables[assoc.inputs["routeTableId"]]
        (default_route,) = table.inputs["routes"]
        assert default_route["cidrBlock"] == "0.0.0.0/0"
        if "kubernetes.io/role/elb" in subnet.inputs["tags"]:
            igw = stack_plan.one("aws:ec2/internetGateway:InternetGateway")
            assert default_route["gatewayId"] == igw.id
            continue
        nat = nats[default_route["natGatewayId"]]
        nat_zone = subnets[nat.inputs["subnetId"]].inputs["availabilityZone"]
        if stack_plan.stack == "prod":
            assert nat_zone == subnet.inputs["availabilityZone"]


def test_default_security_group_is_left_without_rules(stack_plan):
    sg = stack_plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")


def test_alibaba_vpc_and_vswitches_in_distinct_zones(stack_plan):
    c = cfg(stack_plan)
    vpc = stack_plan.one("alicloud:vpc/network:Network")
    assert vpc.inputs["cidrBlock"] == str(c.alibaba_vpc_cidr)
    switches = stack_plan.of_type("alicloud:vpc/switch:Switch")
    assert sorted(s.inputs["zoneId"] for s in switches) == sorted(c.alibaba_zones)
    assert len({s.inputs["zoneId"] for s in switches}) >= 2
    for s in switches:
        assert s.inputs["vpcId"] == vpc.id
        assert Net(s.inputs["cidrBlock"]).subnet_of(c.alibaba_vpc_cidr)


def test_every_resource_sits_in_its_component_on_the_explicit_provider(stack_plan):
    providers = {p.name: p for p in stack_plan.resources if p.type.startswith("pulumi:providers:")}
    assert providers["aws"].inputs["region"] == "us-east-1"
    assert providers["alicloud"].inputs["region"] == "cn-hangzhou"
    # provider inputs travel as config strings: objects are JSON
    default_tags = json.loads(providers["aws"].inputs["defaultTags"])["tags"]
    assert default_tags["Environment"] == stack_plan.stack
    for r in stack_plan.resources:
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        assert component_of(stack_plan, r).type.startswith("railyard:")
        package = r.type.split(":")[0]
        if package in providers:
            assert r.provider.startswith(providers[package].urn), r.name
