"""Site-to-site IPsec VPN between the AWS VPC and the Alibaba VPC: four tunnels, BGP on all.

Shape (docs/vpn.md): the Alibaba VPN gateway is dual-tunnel, so it has two public IPs. AWS
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
        if len(args.alibaba_vswitch_ids) < 2:
            raise ValueError("HybridVpn needs two vSwitches (two zones) for a dual-tunnel gateway")
        tunnels = sorted(args.tunnels, key=lambda t: t.index)
        psks = self._pre_shared_keys(name, args, len(tunnels))
        vgw = self._aws_gateway(name, args)
        self._routes(name, args, vgw)
        gateway = self._alibaba_gateway(name, args)
        gateway_ips = {
            "internet_ip": gateway.internet_ip,
            "disaster_recovery_internet_ip": gateway.disaster_recovery_internet_ip,
        }
        aws_connections = self._aws_tunnels(name, args, tunnels, psks, vgw, gateway_ips)
        alibaba_cgws = self._alibaba_customer_gateways(name, args, tunnels, aws_connections)
        self._alibaba_tunnels(name, args, tunnels, psks, gateway, alibaba_cgws, aws_connections)

        self.aws_vpn_gateway_id = vgw.id
        self.alibaba_vpn_gateway_id = gateway.id
        self.tunnels = _tunnel_summary(tunnels, aws_connections, gateway_ips)
        self.register_outputs(
            {
                "tunnels": self.tunnels,
                "aws_vpn_gateway_id": self.aws_vpn_gateway_id,
                "alibaba_vpn_gateway_id": self.alibaba_vpn_gateway_id,
                "aws_asn": args.aws_asn,
                "alibaba_asn": args.alibaba_asn,
            }
        )

    def _pre_shared_keys(
        self, name: str, args: HybridVpnArgs, count: int
    ) -> list[pulumi.Output[str]]:
        """One pre-shared key per tunnel, as secrets: the configured ones, or generated."""
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
                    opts=pulumi.ResourceOptions(parent=self),
                ).result
            )
            for i in range(count)
        ]

    def _aws_gateway(self, name: str, args: HybridVpnArgs) -> aws.ec2.VpnGateway:
        """The AWS end: a virtual private gateway on the VPC, speaking BGP as ``aws_asn``."""
        return aws.ec2.VpnGateway(
            f"{name}-vgw",
            vpc_id=args.aws_vpc_id,
            amazon_side_asn=str(args.aws_asn),
            tags={"Name": f"{name}-vgw"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _routes(self, name: str, args: HybridVpnArgs, vgw: aws.ec2.VpnGateway) -> None:
        """Every AWS route table learns the Alibaba routes from the gateway (BGP propagation)."""
        for i, route_table_id in enumerate(args.aws_route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-propagation-{i + 1}",
                vpn_gateway_id=vgw.id,
                route_table_id=route_table_id,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _alibaba_gateway(self, name: str, args: HybridVpnArgs) -> alicloud.vpn.Gateway:
        """The Alibaba end: a dual-tunnel VPN gateway over two zones, so two public IPs."""
        return alicloud.vpn.Gateway(
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
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _aws_tunnels(
        self,
        name: str,
        args: HybridVpnArgs,
        tunnels: Sequence[TunnelPlan],
        psks: Sequence[pulumi.Output[str]],
        vgw: aws.ec2.VpnGateway,
        gateway_ips: Mapping[str, pulumi.Output[str]],
    ) -> dict[int, aws.ec2.VpnConnection]:
        """Per Alibaba gateway IP, a customer gateway and a VPN connection of two tunnels."""
        child = pulumi.ResourceOptions(parent=self)
        connections: dict[int, aws.ec2.VpnConnection] = {}
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
            connections[connection] = aws.ec2.VpnConnection(
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
        return connections

    def _alibaba_customer_gateways(
        self,
        name: str,
        args: HybridVpnArgs,
        tunnels: Sequence[TunnelPlan],
        aws_connections: Mapping[int, aws.ec2.VpnConnection],
    ) -> dict[int, alicloud.vpn.CustomerGateway]:
        """Per AWS tunnel endpoint, an Alibaba customer gateway (by tunnel index)."""
        return {
            t.index: alicloud.vpn.CustomerGateway(
                f"{name}-aws-tunnel-{t.index + 1}",
                customer_gateway_name=f"{name}-aws-c{t.aws_connection + 1}-t{t.aws_tunnel}",
                ip_address=_aws_tunnel_output(aws_connections, t, "address"),
                asn=str(args.aws_asn),
                description=f"AWS VPN connection {t.aws_connection + 1}, tunnel {t.aws_tunnel}",
                tags=dict(args.alibaba_tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for t in tunnels
        }

    def _alibaba_tunnels(
        self,
        name: str,
        args: HybridVpnArgs,
        tunnels: Sequence[TunnelPlan],
        psks: Sequence[pulumi.Output[str]],
        gateway: alicloud.vpn.Gateway,
        customer_gateways: Mapping[int, alicloud.vpn.CustomerGateway],
        aws_connections: Mapping[int, aws.ec2.VpnConnection],
    ) -> None:
        """The dual-tunnel IPsec connections; master pairs with the ``internet_ip`` side."""
        for connection in sorted({t.alibaba_connection for t in tunnels}):
            by_role = {t.alibaba_role: t for t in tunnels if t.alibaba_connection == connection}
            specs = [
                alicloud.vpn.ConnectionTunnelOptionsSpecificationArgs(
                    role=role,
                    customer_gateway_id=customer_gateways[t.index].id,
                    enable_dpd=True,
                    enable_nat_traversal=True,
                    tunnel_bgp_config=alicloud.vpn.ConnectionTunnelOptionsSpecificationTunnelBgpConfigArgs(
                        local_asn=str(args.alibaba_asn),
                        local_bgp_ip=_aws_tunnel_output(aws_connections, t, "cgw_inside_address"),
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


def _aws_tunnel_output(
    connections: Mapping[int, aws.ec2.VpnConnection], t: TunnelPlan, attribute: str
) -> pulumi.Output[str]:
    """An attribute of the AWS tunnel ``t`` pairs with, e.g. its outside ``address``."""
    return getattr(connections[t.aws_connection], f"tunnel{t.aws_tunnel}_{attribute}")


def _tunnel_summary(
    tunnels: Sequence[TunnelPlan],
    aws_connections: Mapping[int, aws.ec2.VpnConnection],
    gateway_ips: Mapping[str, pulumi.Output[str]],
) -> pulumi.Output[list[dict[str, str]]]:
    """Both ends of each tunnel, for operators (the ``vpnTunnels`` export)."""
    return pulumi.Output.all(
        *[
            pulumi.Output.all(
                aws_connection_id=aws_connections[t.aws_connection].id,
                aws_outside_ip=_aws_tunnel_output(aws_connections, t, "address"),
                alibaba_outside_ip=gateway_ips[t.alibaba_gateway_ip],
                aws_inside_ip=_aws_tunnel_output(aws_connections, t, "vgw_inside_address"),
                alibaba_inside_ip=_aws_tunnel_output(aws_connections, t, "cgw_inside_address"),
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
