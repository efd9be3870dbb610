"""Site-to-site IPsec VPN between the AWS VPC and the Alibaba VPC: four tunnels, BGP on all.

Shape (DESIGN.md §4): the Alibaba VPN gateway is dual-tunnel, so it has two public IPs. AWS
gets one customer gateway + VPN connection per Alibaba IP (each AWS connection brings two
tunnels); Alibaba gets one customer gateway per AWS tunnel endpoint and two dual-tunnel IPsec
connections. Which AWS tunnel pairs with which Alibaba tunnel is decided once, in
``railyard.ipsec.TunnelPlan``; this component only renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
import pulumi_random as random

from railyard.ipsec import ALIBABA_ROLES, IpsecProposal, TunnelPlan

# AWS's traffic selectors for a route-based VPN are 0.0.0.0/0 on both sides; Alibaba's phase 2
# must offer the same or the SAs never come up. Routing is left to BGP.
ANY = "0.0.0.0/0"


@dataclass
class HybridVpnArgs:
    """Inputs of ``HybridVpn``."""

    aws_vpc_id: pulumi.Input[str]
    """The AWS VPC the virtual private gateway attaches to."""
    aws_route_table_ids: Sequence[pulumi.Input[str]]
    """Every route table of the VPC: each learns the Alibaba routes by VGW propagation. The
    public one too: EKS may place the API endpoint's interfaces in public subnets, and their
    answers to operators over the VPN must not leave through the internet gateway."""
    alibaba_vpc_id: pulumi.Input[str]
    """The Alibaba VPC the VPN gateway serves."""
    alibaba_vswitch_ids: Sequence[pulumi.Input[str]]
    """vSwitches in two different zones: the gateway's primary and disaster-recovery vSwitch."""
    aws_asn: int
    """BGP ASN of the AWS side (``amazon_side_asn``)."""
    alibaba_asn: int
    """BGP ASN of the Alibaba side."""
    tunnels: Sequence[TunnelPlan]
    """The four tunnels (railyard.ipsec.plan_tunnels)."""
    proposal: IpsecProposal
    """The single IKE/IPsec proposal both sides use."""
    pre_shared_keys: Sequence[pulumi.Input[str]] | None = None
    """One PSK per tunnel (wrapped as secrets here); ``None``: generated, kept secret."""
    bandwidth_mbps: int = 10
    """Alibaba VPN gateway bandwidth."""
    payment_type: str = "PayAsYouGo"
    """``Subscription`` on China-site accounts (the API refuses pay-as-you-go there)."""
    alibaba_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for the Alibaba resources."""


class HybridVpn(pulumi.ComponentResource):
    """Both ends of the VPN, wired to each other, with BGP and one proposal everywhere."""

    tunnels: pulumi.Output[list[dict[str, str]]]
    aws_vpn_gateway_id: pulumi.Output[str]
    alibaba_vpn_gateway_id: pulumi.Output[str]

    def __init__(self, name: str, args: HybridVpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:vpn:HybridVpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if len(args.alibaba_vswitch_ids) < 2:
            raise ValueError("HybridVpn needs two vSwitches (two zones) for a dual-tunnel gateway")
        tunnels = sorted(args.tunnels, key=lambda t: t.index)
        psks = self._pre_shared_keys(name, args, len(tunnels), child)

        # --- AWS: virtual private gateway, routes into every private route table ---
        vgw = aws.ec2.VpnGateway(
            f"{name}-vgw",
            vpc_id=args.aws_vpc_id,
            amazon_side_asn=str(args.aws_asn),
            tags={"Name": f"{name}-vgw"},
            opts=child,
        )
        for i, route_table_id in enumerate(args.aws_route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-propagation-{i + 1}",
                vpn_gateway_id=vgw.id,
                route_table_id=route_table_id,
                opts=child,
            )

        # --- Alibaba: dual-tunnel VPN gateway (two zones, two public IPs) ---
        gateway = alicloud.vpn.Gateway(
            f"{name}-gateway",
            vpn_gateway_name=f"{name}-gateway",
            vpc_id=args.alibaba_vpc_id,
            vswitch_id=args.alibaba_vswitch_ids[0],
            disaster_recovery_vswitch_id=args.alibaba_vswitch_ids[1],
            bandwidth=args.bandwidth_mbps,
            network_type="public",
            payment_type=args.payment_type,
            enable_ipsec=True,
            enable_ssl=False,
            auto_propagate=True,  # BGP-learned AWS routes go into the VPC route table
            tags=dict(args.alibaba_tags),
            opts=child,
        )
        gateway_ips = {
            "internet_ip": gateway.internet_ip,
            "disaster_recovery_internet_ip": gateway.disaster_recovery_internet_ip,
        }

        # --- AWS: one customer gateway + VPN connection per Alibaba gateway IP ---
        aws_connections: dict[int, aws.ec2.VpnConnection] = {}
        for connection in sorted({t.aws_connection for t in tunnels}):
            own = [t for t in tunnels if t.aws_connection == connection]
            cgw = aws.ec2.CustomerGateway(
                f"{name}-cgw-{connection + 1}",
                bgp_asn=str(args.alibaba_asn),
                ip_address=gateway_ips[own[0].alibaba_gateway_ip],
                type="ipsec.1",
                tags={"Name": f"{name}-alibaba-{own[0].alibaba_gateway_ip}"},
                opts=child,
            )
            tunnel_args: dict[str, object] = {}
            for t in own:
                n = t.aws_tunnel
                tunnel_args |= args.proposal.aws_tunnel_args(n)
                tunnel_args |= {
                    f"tunnel{n}_inside_cidr": str(t.inside_cidr),
                    f"tunnel{n}_preshared_key": psks[t.index],
                    f"tunnel{n}_startup_action": "start",  # AWS initiates too: faster recovery
                    f"tunnel{n}_dpd_timeout_action": "restart",
                }
            aws_connections[connection] = aws.ec2.VpnConnection(
                f"{name}-conn-{connection + 1}",
                vpn_gateway_id=vgw.id,
                customer_gateway_id=cgw.id,
                type="ipsec.1",
                static_routes_only=False,  # BGP, as on the Alibaba side
                local_ipv4_network_cidr=ANY,
                remote_ipv4_network_cidr=ANY,
                tags={"Name": f"{name}-conn-{connection + 1}"},
                **tunnel_args,
                opts=child,
            )

        # --- Alibaba: a customer gateway per AWS tunnel endpoint ---
        def aws_output(t: TunnelPlan, attribute: str) -> pulumi.Output[str]:
            return getattr(aws_connections[t.aws_connection], f"tunnel{t.aws_tunnel}_{attribute}")

        alibaba_cgws = {
            t.index: alicloud.vpn.CustomerGateway(
                f"{name}-aws-tunnel-{t.index + 1}",
                customer_gateway_name=f"{name}-aws-c{t.aws_connection + 1}-t{t.aws_tunnel}",
                ip_address=aws_output(t, "address"),
                asn=str(args.aws_asn),
                description=f"AWS VPN connection {t.aws_connection + 1}, tunnel {t.aws_tunnel}",
                tags=dict(args.alibaba_tags),
                opts=child,
            )
            for t in tunnels
        }

        # --- Alibaba: dual-tunnel IPsec connections; master pairs with the internet_ip side ---
        alibaba_connections = []
        for connection in sorted({t.alibaba_connection for t in tunnels}):
            by_role = {t.alibaba_role: t for t in tunnels if t.alibaba_connection == connection}
            specs = [
                alicloud.vpn.ConnectionTunnelOptionsSpecificationArgs(
                    role=role,
                    customer_gateway_id=alibaba_cgws[t.index].id,
                    enable_dpd=True,
                    enable_nat_traversal=True,
                    tunnel_bgp_config=alicloud.vpn.ConnectionTunnelOptionsSpecificationTunnelBgpConfigArgs(
                        local_asn=str(args.alibaba_asn),
                        local_bgp_ip=aws_output(t, "cgw_inside_address"),
                        tunnel_cidr=str(t.inside_cidr),
                    ),
                    tunnel_ike_config=alicloud.vpn.ConnectionTunnelOptionsSpecificationTunnelIkeConfigArgs(
                        psk=psks[t.index], **args.proposal.alibaba_ike_config()
                    ),
                    tunnel_ipsec_config=alicloud.vpn.ConnectionTunnelOptionsSpecificationTunnelIpsecConfigArgs(
                        **args.proposal.alibaba_ipsec_config()
                    ),
                )
                for role in ALIBABA_ROLES
                for t in [by_role[role]]
            ]
            alibaba_connections.append(
                alicloud.vpn.Connection(
                    f"{name}-ipsec-{connection + 1}",
                    vpn_connection_name=f"{name}-ipsec-{connection + 1}",
                    vpn_gateway_id=gateway.id,
                    local_subnets=[ANY],
                    remote_subnets=[ANY],
                    enable_tunnels_bgp=True,
                    effect_immediately=True,
                    tunnel_options_specifications=specs,
                    tags=dict(args.alibaba_tags),
                    # the PSKs sit inside this list: keep the whole list secret in state
                    opts=pulumi.ResourceOptions(
                        parent=self, additional_secret_outputs=["tunnel_options_specifications"]
                    ),
                )
            )

        self.aws_vpn_gateway_id = vgw.id
        self.alibaba_vpn_gateway_id = gateway.id
        self.tunnels = pulumi.Output.all(
            *[
                pulumi.Output.all(
                    aws_connection_id=aws_connections[t.aws_connection].id,
                    aws_outside_ip=aws_output(t, "address"),
                    alibaba_outside_ip=gateway_ips[t.alibaba_gateway_ip],
                    aws_inside_ip=aws_output(t, "vgw_inside_address"),
                    alibaba_inside_ip=aws_output(t, "cgw_inside_address"),
                ).apply(
                    lambda o, t=t: {
                        **o,
                        "inside_cidr": str(t.inside_cidr),
                        "aws_tunnel": f"connection {t.aws_connection + 1} tunnel {t.aws_tunnel}",
                        "alibaba_tunnel": f"ipsec-{t.alibaba_connection + 1} {t.alibaba_role}",
                    }
                )
                for t in tunnels
            ]
        )
        self.register_outputs(
            {
                "tunnels": self.tunnels,
                "aws_vpn_gateway_id": self.aws_vpn_gateway_id,
                "alibaba_vpn_gateway_id": self.alibaba_vpn_gateway_id,
                "aws_asn": args.aws_asn,
                "alibaba_asn": args.alibaba_asn,
            }
        )

    @staticmethod
    def _pre_shared_keys(
        name: str, args: HybridVpnArgs, count: int, child: pulumi.ResourceOptions
    ) -> list[pulumi.Output[str]]:
        if args.pre_shared_keys is not None:
            if len(args.pre_shared_keys) != count:
                raise ValueError(f"need {count} pre-shared keys, got {len(args.pre_shared_keys)}")
            return [pulumi.Output.secret(psk) for psk in args.pre_shared_keys]
        # Letters only: AWS refuses a PSK starting with '0' and random cannot pin the first
        # character; 40 letters are still ~228 bits.
        return [
            pulumi.Output.secret(
                random.RandomPassword(
                    f"{name}-psk-{i + 1}",
                    length=40,
                    special=False,
                    numeric=False,
                    opts=child,
                ).result
            )
            for i in range(count)
        ]
