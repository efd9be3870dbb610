"""Security groups (AWS and Alibaba): nothing reachable from the whole internet, except HTTPS
(443/tcp) on a security group that belongs to a load balancer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs

from railyard_policy.support import get, stack_policy

WORLD = {"0.0.0.0/0", "::/0"}
AWS_GROUPS = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
)
AWS_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ALIBABA_RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
# load balancer type -> the input naming its security groups
LOAD_BALANCERS = {
    "aws:lb/loadBalancer:LoadBalancer": "securityGroups",
    "aws:alb/loadBalancer:LoadBalancer": "securityGroups",
    "aws:elb/loadBalancer:LoadBalancer": "securityGroups",
    "alicloud:nlb/loadBalancer:LoadBalancer": "securityGroupIds",
    "alicloud:alb/loadBalancer:LoadBalancer": "securityGroupIds",
}


@dataclass(frozen=True)
class OpenIngress:
    """One ingress from the world, as found in a resource."""

    urn: str  # the resource that says it
    where: str  # its field
    group_urn: str | None  # the security group it opens
    protocol: str
    from_port: int | None
    to_port: int | None

    @property
    def https_only(self) -> bool:
        return self.protocol in ("tcp", "6") and self.from_port == 443 and self.to_port == 443


def _ports(rule: Mapping[str, Any], protocol_key: str) -> tuple[str, int | None, int | None]:
    protocol = str(get(rule, protocol_key, default="")).lower()
    return protocol, get(rule, "fromPort"), get(rule, "toPort")


def _group_of(rule: PolicyResource) -> str | None:
    groups = rule.property_dependencies.get("securityGroupId") or ()
    return groups[0].urn if groups else None


def open_ingress(resources: list[PolicyResource]) -> Iterator[OpenIngress]:
    for r in resources:
        props = r.props
        if r.resource_type in AWS_GROUPS:
            for i, rule in enumerate(get(props, "ingress") or ()):
                cidrs = set(get(rule, "cidrBlocks") or ()) | set(get(rule, "ipv6CidrBlocks") or ())
                if cidrs & WORLD:
                    yield OpenIngress(r.urn, f"ingress[{i}]", r.urn, *_ports(rule, "protocol"))
        elif r.resource_type == AWS_RULE and get(props, "type") == "ingress":
            cidrs = set(get(props, "cidrBlocks") or ()) | set(get(props, "ipv6CidrBlocks") or ())
            if cidrs & WORLD:
                yield OpenIngress(r.urn, "cidrBlocks", _group_of(r), *_ports(props, "protocol"))
        elif r.resource_type == AWS_INGRESS_RULE:
            if {get(props, "cidrIpv4"), get(props, "cidrIpv6")} & WORLD:
                yield OpenIngress(r.urn, "cidrIpv4", _group_of(r), *_ports(props, "ipProtocol"))
        elif r.resource_type == ALIBABA_RULE and get(props, "type") == "ingress":
            if get(props, "policy", default="accept") != "accept":
                continue
            if {get(props, "cidrIp"), get(props, "ipv6CidrIp")} & WORLD:
                low, _, high = str(get(props, "portRange", default="-1/-1")).partition("/")
                protocol = str(get(props, "ipProtocol", default="")).lower()
                yield OpenIngress(
                    r.urn, "cidrIp", _group_of(r), protocol, _int(low), _int(high or low)
                )


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def load_balancer_groups(resources: list[PolicyResource]) -> set[str]:
    """URNs of the security groups some load balancer uses."""
    groups: set[str] = set()
    for r in resources:
        field = LOAD_BALANCERS.get(r.resource_type)
        if field:
            groups |= {d.urn for d in r.property_dependencies.get(field, ())}
    return groups


def check(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    resources = list(args.resources)
    on_load_balancers = load_balancer_groups(resources)
    names = {r.urn: r.name for r in resources}
    for ingress in open_ingress(resources):
        if ingress.https_only and ingress.group_urn in on_load_balancers:
            continue
        ports = f"{ingress.protocol} {ingress.from_port}-{ingress.to_port}"
        yield (
            ingress.urn,
            (
                f"{names[ingress.urn]}: {ingress.where} admits {ports} from the whole internet; "
                "narrow the source CIDR (only 443/tcp on a load balancer may be public)"
            ),
        )


POLICY = stack_policy(
    "no-world-open-ingress",
    "Security groups admit no traffic from 0.0.0.0/0 or ::/0, except 443/tcp on load balancers.",
    check,
)
