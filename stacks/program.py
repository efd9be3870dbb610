"""The railyard stack program: read and validate config, then compose the components.

``main`` is what both ``pulumi up`` and the offline plan run.
"""

from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

from components.alibaba_network import AlibabaNetwork, AlibabaNetworkArgs
from components.aws_network import AwsNetwork, AwsNetworkArgs
from components.hybrid_vpn import HybridVpn, HybridVpnArgs
from railyard import config as stack_config


def read_config() -> stack_config.StackConfig:
    """Validate the stack's config, or stop the program with every problem before any resource."""
    # Every railyard key present (to catch typos), plus the keys of the model from any source
    # the SDK knows (the engine's config, PULUMI_CONFIG_* environment variables).
    raw = {k: v for k, v in runtime_config.CONFIG.get().items() if k.startswith("railyard:")}
    raw |= {
        key: value
        for key in stack_config.FIELDS_BY_KEY
        if (value := runtime_config.get_config(key)) is not None
    }
    secret_keys = [k for k in raw if runtime_config.is_config_secret(k)]
    try:
        return stack_config.load(raw, secret_keys)
    except stack_config.ConfigError as e:
        raise pulumi.RunError(str(e)) from e


def build(cfg: stack_config.StackConfig) -> None:
    """Register every resource of one environment and export what other tools need."""
    prefix = f"railyard-{cfg.environment}"
    tags = {"Project": "railyard", "Environment": cfg.environment, "ManagedBy": "pulumi"}

    # Explicit providers: region from config, tags on every AWS resource, no implicit defaults.
    aws_provider = aws.Provider(
        "aws", region=cfg.aws_region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags)
    )
    alibaba_provider = alicloud.Provider("alicloud", region=cfg.alibaba_region)
    on_aws = pulumi.ResourceOptions(providers=[aws_provider])
    on_alibaba = pulumi.ResourceOptions(providers=[alibaba_provider])

    aws_net = AwsNetwork(
        f"{prefix}-aws",
        AwsNetworkArgs(
            vpc_cidr=str(cfg.aws_vpc_cidr),
            availability_zones=cfg.aws_availability_zones,
            private_subnet_cidrs=[str(c) for c in cfg.aws_private_subnet_cidrs],
            public_subnet_cidrs=[str(c) for c in cfg.aws_public_subnet_cidrs],
            nat_gateways=cfg.aws_nat_gateways,
        ),
        opts=on_aws,
    )
    alibaba_net = AlibabaNetwork(
        f"{prefix}-alibaba",
        AlibabaNetworkArgs(
            vpc_cidr=str(cfg.alibaba_vpc_cidr),
            zones=cfg.alibaba_zones,
            vswitch_cidrs=[str(c) for c in cfg.alibaba_vswitch_cidrs],
            tags=tags,
        ),
        opts=on_alibaba,
    )
    vpn = HybridVpn(
        f"{prefix}-vpn",
        HybridVpnArgs(
            aws_vpc_id=aws_net.vpc_id,
            aws_private_route_table_ids=aws_net.private_route_table_ids,
            alibaba_vpc_id=alibaba_net.vpc_id,
            alibaba_vswitch_ids=alibaba_net.vswitch_ids[:2],
            aws_asn=cfg.vpn_aws_asn,
            alibaba_asn=cfg.vpn_alibaba_asn,
            tunnels=cfg.tunnels(),
            proposal=cfg.proposal(),
            pre_shared_keys=(
                [k.get_secret_value() for k in cfg.vpn_pre_shared_keys]
                if cfg.vpn_pre_shared_keys is not None
                else None
            ),
            bandwidth_mbps=cfg.vpn_bandwidth_mbps,
            alibaba_tags=tags,
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider, alibaba_provider]),
    )

    pulumi.export("awsVpcId", aws_net.vpc_id)
    pulumi.export("awsPrivateSubnetIds", aws_net.private_subnet_ids)
    pulumi.export("awsPublicSubnetIds", aws_net.public_subnet_ids)
    pulumi.export("alibabaVpcId", alibaba_net.vpc_id)
    pulumi.export("alibabaVswitchIds", alibaba_net.vswitch_ids)
    pulumi.export("vpnTunnels", vpn.tunnels)
    pulumi.export("vpnAsns", {"aws": cfg.vpn_aws_asn, "alibaba": cfg.vpn_alibaba_asn})


def main() -> None:
    build(read_config())
