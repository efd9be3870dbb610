"""Cross-field checks of the networks and the VPN."""

from __future__ import annotations

from collections.abc import Collection

from railyard import cidr, ipsec
from railyard.config.errors import Problem
from railyard.config.model import (
    ALIBABA_REGIONS,
    AWS_REGIONS,
    PROJECT,
    RFC1918,
    StackConfig,
    full_key,
)


def check(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    """Every network and VPN problem of a parsed config."""
    return [
        *_check_regions(c),
        *_check_cidrs(c),
        *_check_vpn(c),
        *_check_psks(c, secret_keys),
    ]


def _check_regions(c: StackConfig) -> list[Problem]:
    problems = []
    if c.aws_region not in AWS_REGIONS:
        problems.append(
            Problem(
                "aws:region",
                f"unknown AWS region {c.aws_region!r}",
                "use a region id such as us-east-1",
            )
        )
    if c.alibaba_region not in ALIBABA_REGIONS:
        problems.append(
            Problem(
                "alicloud:region",
                f"unknown Alibaba Cloud region {c.alibaba_region!r}",
                "use a region id such as cn-hangzhou",
            )
        )
    for key, zones, region in (
        (full_key("awsAvailabilityZones"), c.aws_availability_zones, c.aws_region),
        (full_key("alibabaZones"), c.alibaba_zones, c.alibaba_region),
    ):
        if len(set(zones)) != len(zones):
            problems.append(Problem(key, f"lists a zone twice: {zones}", "list each zone once"))
        strangers = [z for z in zones if not z.startswith(region)]
        if strangers:
            problems.append(
                Problem(
                    key,
                    f"{strangers} are not zones of region {region}",
                    f"use zones of {region}, e.g. {region}a / {region}-i",
                )
            )
    return problems


def _check_cidrs(c: StackConfig) -> list[Problem]:
    problems = []
    ranges = [
        (full_key("awsVpcCidr"), c.aws_vpc_cidr),
        (full_key("alibabaVpcCidr"), c.alibaba_vpc_cidr),
        (full_key("eksServiceCidr"), c.eks_service_cidr),
    ]
    for a, b in cidr.overlapping_pairs(ranges):
        problems.append(
            Problem(
                a,
                f"{dict(ranges)[a]} overlaps {b} ({dict(ranges)[b]}); traffic "
                "over the VPN could not be routed",
                "choose ranges that do not overlap",
            )
        )
    if not any(c.eks_service_cidr.subnet_of(n) for n in RFC1918) or not (
        12 <= c.eks_service_cidr.prefixlen <= 24
    ):
        problems.append(
            Problem(
                full_key("eksServiceCidr"),
                f"{c.eks_service_cidr} must be a /12 to /24 "
                "inside 10/8, 172.16/12 or 192.168/16 (EKS rule)",
                "e.g. 172.20.0.0/16",
            )
        )
    subnet_sets = (
        (
            full_key("awsPrivateSubnetCidrs"),
            c.aws_private_subnet_cidrs,
            c.aws_vpc_cidr,
            len(c.aws_availability_zones),
        ),
        (
            full_key("awsPublicSubnetCidrs"),
            c.aws_public_subnet_cidrs,
            c.aws_vpc_cidr,
            len(c.aws_availability_zones),
        ),
        (
            full_key("alibabaVswitchCidrs"),
            c.alibaba_vswitch_cidrs,
            c.alibaba_vpc_cidr,
            len(c.alibaba_zones),
        ),
    )
    for key, subnets, vpc, zones in subnet_sets:
        if len(subnets) != zones:
            problems.append(
                Problem(
                    key,
                    f"has {len(subnets)} entries for {zones} zones",
                    "give one CIDR per zone, in zone order, or leave it empty",
                )
            )
        for stray in cidr.outside(vpc, subnets):
            problems.append(
                Problem(key, f"{stray} is not inside the VPC {vpc}", f"use ranges inside {vpc}")
            )
    # Inside each VPC every subnet needs its own range (VPC-to-VPC overlap is reported above).
    for cloud in ("aws", "alibaba"):
        named = [
            (f"{key}[{i}]", s)
            for key, subnets, _, _ in subnet_sets
            if key.startswith(f"{PROJECT}:{cloud}")
            for i, s in enumerate(subnets)
        ]
        for a, b in cidr.overlapping_pairs(named):
            problems.append(Problem(a, f"overlaps {b}", "give every subnet its own range"))
    return problems


def _check_vpn(c: StackConfig) -> list[Problem]:
    problems = []
    key = full_key("vpnTunnelInsideCidrs")
    cidrs = c.vpn_tunnel_inside_cidrs
    if len(cidrs) != ipsec.TUNNEL_COUNT:
        problems.append(
            Problem(
                key,
                f"has {len(cidrs)} entries; the VPN has {ipsec.TUNNEL_COUNT} tunnels",
                "give four /30s or leave it empty",
            )
        )
    for i, tunnel_cidr in enumerate(cidrs):
        why = ipsec.inside_cidr_problem(tunnel_cidr)
        if why:
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    why,
                    "use a /30 in 169.254.6.4-169.254.255.255, e.g. 169.254.100.0/30",
                )
            )
    for a, b in cidr.overlapping_pairs((f"{key}[{i}]", n) for i, n in enumerate(cidrs)):
        problems.append(
            Problem(a, f"overlaps {b}; each tunnel needs its own /30", "make them unique")
        )

    for name, asn in (("vpnAwsAsn", c.vpn_aws_asn), ("vpnAlibabaAsn", c.vpn_alibaba_asn)):
        why = ipsec.asn_problem(asn)
        if why:
            problems.append(Problem(full_key(name), why, "use a private ASN in 64512-65534"))
    if c.vpn_aws_asn == c.vpn_alibaba_asn:
        problems.append(
            Problem(
                full_key("vpnAlibabaAsn"),
                f"equals vpnAwsAsn ({c.vpn_aws_asn}); eBGP needs two different ASNs",
                "pick another private ASN",
            )
        )

    lo, hi = ipsec.PHASE1_LIFETIME_RANGE
    if not lo <= c.vpn_phase1_lifetime_seconds <= hi:
        problems.append(
            Problem(
                full_key("vpnPhase1LifetimeSeconds"),
                f"{c.vpn_phase1_lifetime_seconds} s is outside {lo}-{hi} s (AWS limit)",
                f"use at most {hi}",
            )
        )
    lo, hi = ipsec.PHASE2_LIFETIME_RANGE
    if not lo <= c.vpn_phase2_lifetime_seconds <= hi:
        problems.append(
            Problem(
                full_key("vpnPhase2LifetimeSeconds"),
                f"{c.vpn_phase2_lifetime_seconds} s is outside {lo}-{hi} s (AWS limit)",
                f"use at most {hi}",
            )
        )
    elif c.vpn_phase2_lifetime_seconds >= c.vpn_phase1_lifetime_seconds:
        problems.append(
            Problem(
                full_key("vpnPhase2LifetimeSeconds"),
                "must be below vpnPhase1LifetimeSeconds (AWS rule)",
                "lower it, e.g. 3600",
            )
        )
    if c.vpn_bandwidth_mbps not in ipsec.ALIBABA_VPN_BANDWIDTHS_MBPS:
        problems.append(
            Problem(
                full_key("vpnBandwidthMbps"),
                f"{c.vpn_bandwidth_mbps} is not an Alibaba VPN gateway size",
                f"use one of {ipsec.ALIBABA_VPN_BANDWIDTHS_MBPS}",
            )
        )
    return problems


def _check_psks(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    key = full_key("vpnPreSharedKeys")
    if c.vpn_pre_shared_keys is None:
        return []
    problems = []
    if key not in secret_keys:
        problems.append(
            Problem(
                key,
                "is stored in plaintext",
                "remove it from the stack file and set "
                f"each with: pulumi config set --secret --path '{key}[0]' …",
            )
        )
    if len(c.vpn_pre_shared_keys) != ipsec.TUNNEL_COUNT:
        problems.append(
            Problem(
                key,
                f"has {len(c.vpn_pre_shared_keys)} keys; the VPN has {ipsec.TUNNEL_COUNT} tunnels",
                "set four, or unset it to generate them",
            )
        )
    for i, psk in enumerate(c.vpn_pre_shared_keys):
        why = ipsec.psk_problem(psk.get_secret_value())
        if why:
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    f"the key {why}",
                    "set a key of 8-64 letters, digits, '.' or '_' that does not start with '0'",
                )
            )
    return problems
