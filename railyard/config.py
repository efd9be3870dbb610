"""Typed, validated stack config.

One model, ``StackConfig``, is the single source of truth for every config key the program
reads: its alias is the full Pulumi key, its description is the documentation, its default is
the default (``Pulumi.yaml`` declares the same keys; a test keeps the two in sync). ``load``
turns raw config values into a ``StackConfig`` or raises ``ConfigError`` listing every problem,
each naming the key and the fix, before the program registers a single resource.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

from pulumi_aws import Region as _AwsRegion
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError

from railyard import cidr, ipsec

PROJECT = "railyard"

AWS_REGIONS = frozenset(r.value for r in _AwsRegion)
# Alibaba Cloud region IDs (Alibaba Cloud "Regions and zones"; pulumi_alicloud ships no enum).
ALIBABA_REGIONS = frozenset(
    {
        "cn-qingdao",
        "cn-beijing",
        "cn-zhangjiakou",
        "cn-huhehaote",
        "cn-wulanchabu",
        "cn-hangzhou",
        "cn-shanghai",
        "cn-nanjing",
        "cn-fuzhou",
        "cn-wuhan-lr",
        "cn-shenzhen",
        "cn-heyuan",
        "cn-guangzhou",
        "cn-chengdu",
        "cn-hongkong",
        "ap-southeast-1",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ap-northeast-1",
        "ap-northeast-2",
        "us-west-1",
        "us-east-1",
        "eu-central-1",
        "eu-west-1",
        "me-east-1",
        "me-central-1",
        "na-south-1",
    }
)
RFC1918 = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _json_list(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise ValueError(f"is not a list ({e.msg})") from None
    return value


def _cidr(value: Any) -> IPv4Network:
    if isinstance(value, IPv4Network):
        return value
    try:
        return cidr.network(str(value))
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IPv4 CIDR ({e})") from None


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr)]
CidrList = Annotated[list[Cidr], BeforeValidator(_json_list)]
StrList = Annotated[list[str], BeforeValidator(_json_list)]


def _key(name: str) -> str:
    return f"{PROJECT}:{name}"


class StackConfig(BaseModel):
    """Everything one stack (environment) of railyard is configured with."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    environment: str = Field(
        alias=_key("environment"),
        pattern=r"^[a-z][a-z0-9-]{1,15}$",
        description="Environment name used in resource names and tags (e.g. dev, prod).",
        examples=["dev"],
    )
    aws_region: str = Field(
        alias="aws:region", description="AWS region of the control plane.", examples=["us-east-1"]
    )
    alibaba_region: str = Field(
        alias="alicloud:region",
        description="Alibaba Cloud region of the build farm and China CDN.",
        examples=["cn-hangzhou"],
    )

    # --- AWS network ---
    aws_vpc_cidr: Cidr = Field(
        alias=_key("awsVpcCidr"), description="CIDR of the AWS VPC.", examples=["10.10.0.0/16"]
    )
    aws_availability_zones: StrList = Field(
        alias=_key("awsAvailabilityZones"),
        min_length=2,
        max_length=cidr.MAX_PLANNED_ZONES,
        description="AWS availability zones to spread subnets over (2 to 6).",
        examples=[["us-east-1a", "us-east-1b"]],
    )
    aws_nat_gateways: Literal["single", "perAz"] = Field(
        default="perAz",
        alias=_key("awsNatGateways"),
        description="NAT gateways: `single` (cheap, one AZ) or `perAz` (survives an AZ outage).",
        examples=["perAz"],
    )
    aws_private_subnet_cidrs: CidrList = Field(
        default_factory=list,
        alias=_key("awsPrivateSubnetCidrs"),
        description="Private subnet per AZ, in AZ order. Empty means planned from the VPC CIDR.",
        examples=[["10.10.0.0/19", "10.10.32.0/19"]],
    )
    aws_public_subnet_cidrs: CidrList = Field(
        default_factory=list,
        alias=_key("awsPublicSubnetCidrs"),
        description="Public subnet per AZ, in AZ order. Empty means planned from the VPC CIDR.",
        examples=[["10.10.224.0/22", "10.10.228.0/22"]],
    )
    eks_service_cidr: Cidr = Field(
        default=IPv4Network("172.20.0.0/16"),
        alias=_key("eksServiceCidr"),
        description="Kubernetes service CIDR of the EKS cluster (reserved now, used by EKS).",
        examples=["172.20.0.0/16"],
    )

    # --- Alibaba network ---
    alibaba_vpc_cidr: Cidr = Field(
        alias=_key("alibabaVpcCidr"),
        description="CIDR of the Alibaba Cloud VPC.",
        examples=["10.60.0.0/16"],
    )
    alibaba_zones: StrList = Field(
        alias=_key("alibabaZones"),
        min_length=2,
        description="Alibaba zones for vSwitches; the first two carry the dual-tunnel VPN gateway.",
        examples=[["cn-hangzhou-i", "cn-hangzhou-j"]],
    )
    alibaba_vswitch_cidrs: CidrList = Field(
        default_factory=list,
        alias=_key("alibabaVswitchCidrs"),
        description="vSwitch CIDR per zone, in zone order. Empty means planned from the VPC CIDR.",
        examples=[["10.60.0.0/20", "10.60.16.0/20"]],
    )

    # --- VPN ---
    vpn_aws_asn: int = Field(
        default=64512,
        alias=_key("vpnAwsAsn"),
        description="BGP ASN of the AWS side (the VPN gateway's amazon_side_asn).",
        examples=[64512],
    )
    vpn_alibaba_asn: int = Field(
        default=65010,
        alias=_key("vpnAlibabaAsn"),
        description="BGP ASN of the Alibaba VPN gateway.",
        examples=[65010],
    )
    vpn_tunnel_inside_block: Cidr = Field(
        default=IPv4Network("169.254.100.0/28"),
        alias=_key("vpnTunnelInsideBlock"),
        description="Link-local block the four tunnel /30s are allocated from.",
        examples=["169.254.100.0/28"],
    )
    vpn_tunnel_inside_cidrs: CidrList = Field(
        default_factory=list,
        alias=_key("vpnTunnelInsideCidrs"),
        description="Four tunnel inside /30s (conn 1 tunnels 1-2, conn 2 tunnels 1-2). "
        "Empty means allocated from vpnTunnelInsideBlock.",
        examples=[
            ["169.254.100.0/30", "169.254.100.4/30", "169.254.100.8/30", "169.254.100.12/30"]
        ],
    )
    vpn_phase1_lifetime_seconds: int = Field(
        default=28800,
        alias=_key("vpnPhase1LifetimeSeconds"),
        description="IKE (phase 1) SA lifetime, 900-28800 s (the AWS maximum).",
        examples=[28800],
    )
    vpn_phase2_lifetime_seconds: int = Field(
        default=3600,
        alias=_key("vpnPhase2LifetimeSeconds"),
        description="IPsec (phase 2) SA lifetime, 900-3600 s, below phase 1.",
        examples=[3600],
    )
    vpn_bandwidth_mbps: int = Field(
        default=10,
        alias=_key("vpnBandwidthMbps"),
        description="Bandwidth of the Alibaba VPN gateway in Mbit/s.",
        examples=[10],
    )
    vpn_pre_shared_keys: Annotated[list[SecretStr], BeforeValidator(_json_list)] | None = Field(
        default=None,
        alias=_key("vpnPreSharedKeys"),
        description="Four tunnel PSKs, same order as the inside CIDRs. "
        "Unset: generated by the stack and kept as secrets.",
        json_schema_extra={"secret": True},
    )

    def tunnels(self) -> list[ipsec.TunnelPlan]:
        return ipsec.plan_tunnels(self.vpn_tunnel_inside_cidrs)

    def proposal(self) -> ipsec.IpsecProposal:
        return ipsec.IpsecProposal(
            phase1_lifetime_seconds=self.vpn_phase1_lifetime_seconds,
            phase2_lifetime_seconds=self.vpn_phase2_lifetime_seconds,
        )


# Keys the program reads: every alias of the model.
FIELDS_BY_KEY = {f.alias: (name, f) for name, f in StackConfig.model_fields.items()}
SECRET_KEYS = frozenset(
    k for k, (_, f) in FIELDS_BY_KEY.items() if (f.json_schema_extra or {}).get("secret")
)


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" + (f". Fix: {self.fix}" if self.fix else "")


class ConfigError(ValueError):
    """The stack config is invalid; ``problems`` names every bad key."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{lines}")


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
        problems += _cross_checks(config, secret_keys)
    if problems:
        raise ConfigError(problems)
    return config


def _unknown_keys(raw: Mapping[str, Any]) -> list[Problem]:
    problems = []
    for key in raw:
        if key.startswith(f"{PROJECT}:") and key not in FIELDS_BY_KEY:
            close = difflib.get_close_matches(key, FIELDS_BY_KEY, n=1)
            fix = f"did you mean {close[0]}?" if close else "remove it (see docs/config.md)"
            problems.append(Problem(key, "is not a railyard config key", fix))
    return problems


def _from_pydantic(err: Mapping[str, Any]) -> Problem:
    loc = err["loc"]
    key = str(loc[0]) if loc else PROJECT
    where = "".join(f"[{p}]" for p in loc[1:])
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    hidden = key in SECRET_KEYS or err["type"] == "missing" or repr(err["input"]) in message
    shown = "" if hidden else f" (got {err['input']!r})"
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
                    _key("awsVpcCidr"),
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
            problems.append(Problem(_key("alibabaVpcCidr"), str(e), "use a larger VPC"))
    if not c.vpn_tunnel_inside_cidrs:
        try:
            update["vpn_tunnel_inside_cidrs"] = ipsec.allocate_inside_cidrs(
                c.vpn_tunnel_inside_block
            )
        except ValueError as e:
            problems.append(
                Problem(_key("vpnTunnelInsideBlock"), str(e), "use a /28 such as 169.254.100.0/28")
            )
    return c.model_copy(update=update), problems


def _cross_checks(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
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
        (_key("awsAvailabilityZones"), c.aws_availability_zones, c.aws_region),
        (_key("alibabaZones"), c.alibaba_zones, c.alibaba_region),
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
        (_key("awsVpcCidr"), c.aws_vpc_cidr),
        (_key("alibabaVpcCidr"), c.alibaba_vpc_cidr),
        (_key("eksServiceCidr"), c.eks_service_cidr),
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
                _key("eksServiceCidr"),
                f"{c.eks_service_cidr} must be a /12 to /24 "
                "inside 10/8, 172.16/12 or 192.168/16 (EKS rule)",
                "e.g. 172.20.0.0/16",
            )
        )
    subnet_sets = (
        (
            _key("awsPrivateSubnetCidrs"),
            c.aws_private_subnet_cidrs,
            c.aws_vpc_cidr,
            len(c.aws_availability_zones),
        ),
        (
            _key("awsPublicSubnetCidrs"),
            c.aws_public_subnet_cidrs,
            c.aws_vpc_cidr,
            len(c.aws_availability_zones),
        ),
        (
            _key("alibabaVswitchCidrs"),
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
    key = _key("vpnTunnelInsideCidrs")
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
                    "use a /30 in 169.254.6.0-169.254.255.255, e.g. 169.254.100.0/30",
                )
            )
    for a, b in cidr.overlapping_pairs((f"{key}[{i}]", n) for i, n in enumerate(cidrs)):
        problems.append(
            Problem(a, f"overlaps {b}; each tunnel needs its own /30", "make them unique")
        )

    for name, asn in (("vpnAwsAsn", c.vpn_aws_asn), ("vpnAlibabaAsn", c.vpn_alibaba_asn)):
        why = ipsec.asn_problem(asn)
        if why:
            problems.append(Problem(_key(name), why, "use a private ASN in 64512-65534"))
    if c.vpn_aws_asn == c.vpn_alibaba_asn:
        problems.append(
            Problem(
                _key("vpnAlibabaAsn"),
                f"equals vpnAwsAsn ({c.vpn_aws_asn}); eBGP needs two different ASNs",
                "pick another private ASN",
            )
        )

    lo, hi = ipsec.PHASE1_LIFETIME_RANGE
    if not lo <= c.vpn_phase1_lifetime_seconds <= hi:
        problems.append(
            Problem(
                _key("vpnPhase1LifetimeSeconds"),
                f"{c.vpn_phase1_lifetime_seconds} s is outside {lo}-{hi} s (AWS limit)",
                f"use at most {hi}",
            )
        )
    lo, hi = ipsec.PHASE2_LIFETIME_RANGE
    if not lo <= c.vpn_phase2_lifetime_seconds <= hi:
        problems.append(
            Problem(
                _key("vpnPhase2LifetimeSeconds"),
                f"{c.vpn_phase2_lifetime_seconds} s is outside {lo}-{hi} s (AWS limit)",
                f"use at most {hi}",
            )
        )
    elif c.vpn_phase2_lifetime_seconds >= c.vpn_phase1_lifetime_seconds:
        problems.append(
            Problem(
                _key("vpnPhase2LifetimeSeconds"),
                "must be below vpnPhase1LifetimeSeconds (AWS rule)",
                "lower it, e.g. 3600",
            )
        )
    if c.vpn_bandwidth_mbps not in ipsec.ALIBABA_VPN_BANDWIDTHS_MBPS:
        problems.append(
            Problem(
                _key("vpnBandwidthMbps"),
                f"{c.vpn_bandwidth_mbps} is not an Alibaba VPN gateway size",
                f"use one of {ipsec.ALIBABA_VPN_BANDWIDTHS_MBPS}",
            )
        )
    return problems


def _check_psks(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    key = _key("vpnPreSharedKeys")
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
