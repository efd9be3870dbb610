"""The hybrid VPN as registered by the real program: every wiring rule of docs/vpn.md."""

import pytest

from offline.runner import run_offline
from railyard import ipsec
from tests.harness import by_id, string_leaves

AWS_CGW = "aws:ec2/customerGateway:CustomerGateway"
AWS_CONN = "aws:ec2/vpnConnection:VpnConnection"
VGW = "aws:ec2/vpnGateway:VpnGateway"
ALI_GW = "alicloud:vpn/gateway:Gateway"
ALI_CGW = "alicloud:vpn/customerGateway:CustomerGateway"
ALI_CONN = "alicloud:vpn/connection:Connection"
PSKS = "railyard:vpnPreSharedKeys"


def alibaba_tunnels(plan):
    """(Alibaba connection, tunnel spec) for every Alibaba tunnel."""
    return [
        (c, spec)
        for c in plan.of_type(ALI_CONN)
        for spec in c.inputs["tunnelOptionsSpecifications"]
    ]


def aws_tunnel_of(plan, alibaba_spec):
    """The AWS (connection, tunnel number) whose outside address the Alibaba tunnel dials."""
    peer_ip = by_id(plan, ALI_CGW)[alibaba_spec["customerGatewayId"]].inputs["ipAddress"]
    matches = [
        (conn, n)
        for conn in plan.of_type(AWS_CONN)
        for n in (1, 2)
        if conn.outputs[f"tunnel{n}Address"] == peer_ip
    ]
    assert len(matches) == 1, f"{peer_ip} is the address of {len(matches)} AWS tunnels"
    return matches[0]


def vpn_passwords(plan):
    vpn = plan.one("railyard:vpn:HybridVpn")
    return [r for r in plan.children(vpn) if r.type == "random:index/randomPassword:RandomPassword"]


def test_vpn_shape(stack_plan):
    assert len(stack_plan.of_type(VGW)) == 1
    assert len(stack_plan.of_type(AWS_CGW)) == 2
    assert len(stack_plan.of_type(AWS_CONN)) == 2
    assert len(stack_plan.of_type(ALI_GW)) == 1
    assert len(stack_plan.of_type(ALI_CGW)) == 4
    connections = stack_plan.of_type(ALI_CONN)
    assert len(connections) == 2
    for c in connections:
        roles = sorted(s["role"] for s in c.inputs["tunnelOptionsSpecifications"])
        assert roles == ["master", "slave"]


def test_alibaba_gateway_is_dual_tunnel_across_two_zones(stack_plan):
    gw = stack_plan.one(ALI_GW)
    switches = by_id(stack_plan, "alicloud:vpc/switch:Switch")
    primary = switches[gw.inputs["vswitchId"]]
    backup = switches[gw.inputs["disasterRecoveryVswitchId"]]
    assert primary.inputs["zoneId"] != backup.inputs["zoneId"]
    assert gw.inputs["enableIpsec"] is True
    assert gw.inputs["autoPropagate"] is True
    assert gw.inputs["vpcId"] == stack_plan.one("alicloud:vpc/network:Network").id


def test_aws_customer_gateways_are_the_alibaba_gateway_ips(stack_plan):
    gw = stack_plan.one(ALI_GW).outputs
    ips = {c.inputs["ipAddress"] for c in stack_plan.of_type(AWS_CGW)}
    assert ips == {gw["internetIp"], gw["disasterRecoveryInternetIp"]}
    cgws = by_id(stack_plan, AWS_CGW)
    assert {
        cgws[c.inputs["customerGatewayId"]].inputs["ipAddress"]
        for c in stack_plan.of_type(AWS_CONN)
    } == ips
    assert all(c.inputs["type"] == "ipsec.1" for c in stack_plan.of_type(AWS_CGW))


def test_alibaba_customer_gateways_are_the_aws_tunnel_endpoints(stack_plan):
    endpoints = {
        conn.outputs[f"tunnel{n}Address"] for conn in stack_plan.of_type(AWS_CONN) for n in (1, 2)
    }
    assert {c.inputs["ipAddress"] for c in stack_plan.of_type(ALI_CGW)} == endpoints
    assert len(endpoints) == 4


def test_master_tunnels_peer_with_the_connection_of_the_first_gateway_ip(stack_plan):
    gw = stack_plan.one(ALI_GW).outputs
    aws_cgws = by_id(stack_plan, AWS_CGW)
    used = set()
    for _, spec in alibaba_tunnels(stack_plan):
        conn, n = aws_tunnel_of(stack_plan, spec)
        aws_side_ip = aws_cgws[conn.inputs["customerGatewayId"]].inputs["ipAddress"]
        expected = (
            gw["internetIp"] if spec["role"] == "master" else gw["disasterRecoveryInternetIp"]
        )
        assert aws_side_ip == expected, f"{spec['role']} tunnel peers with the wrong AWS connection"
        used.add((conn.name, n))
    assert len(used) == 4  # every AWS tunnel has exactly one Alibaba peer


def test_bgp_addresses_and_asns_match_across_sides(stack_plan):
    vgw = stack_plan.one(VGW)
    aws_asn = vgw.inputs["amazonSideAsn"]
    alibaba_asns = {c.inputs["bgpAsn"] for c in stack_plan.of_type(AWS_CGW)}
    assert len(alibaba_asns) == 1
    alibaba_asn = alibaba_asns.pop()
    assert aws_asn != alibaba_asn
    assert {c.inputs["asn"] for c in stack_plan.of_type(ALI_CGW)} == {aws_asn}
    for conn in stack_plan.of_type(AWS_CONN):
        assert conn.inputs["staticRoutesOnly"] is False
        assert conn.inputs["vpnGatewayId"] == vgw.id
    for alibaba_conn, spec in alibaba_tunnels(stack_plan):
        assert alibaba_conn.inputs["enableTunnelsBgp"] is True
        conn, n = aws_tunnel_of(stack_plan, spec)
        bgp = spec["tunnelBgpConfig"]
        assert bgp["localAsn"] == alibaba_asn
        assert bgp["tunnelCidr"] == conn.inputs[f"tunnel{n}InsideCidr"]
        assert bgp["localBgpIp"] == conn.outputs[f"tunnel{n}CgwInsideAddress"]


def test_tunnel_inside_cidrs_are_unique_valid_slash30s(stack_plan):
    cidrs = [c.inputs[f"tunnel{n}InsideCidr"] for c in stack_plan.of_type(AWS_CONN) for n in (1, 2)]
    assert len(set(cidrs)) == 4
    from ipaddress import IPv4Network

    assert all(ipsec.inside_cidr_problem(IPv4Network(c)) is None for c in cidrs)


def test_one_identical_proposal_on_all_eight_tunnel_ends(stack_plan):
    proposals = {
        ipsec.proposal_from_aws(conn.inputs, n)
        for conn in stack_plan.of_type(AWS_CONN)
        for n in (1, 2)
    }
    proposals |= {
        ipsec.proposal_from_alibaba(spec["tunnelIkeConfig"], spec["tunnelIpsecConfig"])
        for _, spec in alibaba_tunnels(stack_plan)
    }
    assert proposals == {
        ipsec.IpsecProposal(phase1_lifetime_seconds=28800, phase2_lifetime_seconds=3600)
    }


def test_traffic_selectors_match_and_routing_is_left_to_bgp(stack_plan):
    for conn in stack_plan.of_type(AWS_CONN):
        assert (
            conn.inputs["localIpv4NetworkCidr"]
            == conn.inputs["remoteIpv4NetworkCidr"]
            == "0.0.0.0/0"
        )
    for c in stack_plan.of_type(ALI_CONN):
        assert c.inputs["localSubnets"] == c.inputs["remoteSubnets"] == ["0.0.0.0/0"]


def test_vgw_routes_propagate_into_every_route_table(stack_plan):
    """Private subnets (nodes, the runner) and the public one: the EKS endpoint's interfaces may
    sit there, and their answers to operators over the VPN must go back through the VPN."""
    tables = {t.id for t in stack_plan.of_type("aws:ec2/routeTable:RouteTable")}
    propagated = [
        p.inputs["routeTableId"]
        for p in stack_plan.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    ]
    assert sorted(propagated) == sorted(tables)


def test_generated_psks_are_secrets_on_both_sides(stack_plan):
    for conn in stack_plan.of_type(AWS_CONN):
        assert conn.is_secret("tunnel1PresharedKey") and conn.is_secret("tunnel2PresharedKey")
    for conn in stack_plan.of_type(ALI_CONN):
        assert conn.is_secret("tunnelOptionsSpecifications")
        assert "tunnelOptionsSpecifications" in conn.additional_secret_outputs
    passwords = vpn_passwords(stack_plan)
    assert len(passwords) == 4
    assert all(p.inputs["special"] is False and p.inputs["length"] >= 32 for p in passwords)


@pytest.fixture(scope="module")
def plan_with_configured_psks():
    secure = [{"secure": f"v1:ciphertext-{i}"} for i in range(4)]
    return run_offline("prod", {PSKS: secure})


def test_configured_psks_stay_secret_and_match_per_tunnel(plan_with_configured_psks):
    plan = plan_with_configured_psks
    assert not vpn_passwords(plan)
    aws_psks = {}
    for conn in plan.of_type(AWS_CONN):
        for n in (1, 2):
            assert conn.is_secret(f"tunnel{n}PresharedKey")
            aws_psks[(conn.name, n)] = conn.inputs[f"tunnel{n}PresharedKey"]
    assert len(set(aws_psks.values())) == 4
    for _, spec in alibaba_tunnels(plan):
        conn, n = aws_tunnel_of(plan, spec)
        assert spec["tunnelIkeConfig"]["psk"] == aws_psks[(conn.name, n)]


def test_configured_psks_appear_nowhere_outside_secret_inputs(plan_with_configured_psks):
    plan = plan_with_configured_psks
    psks = {c.inputs["tunnel1PresharedKey"] for c in plan.of_type(AWS_CONN)}

    for r in plan.resources:
        leaked = [
            path
            for path, s in string_leaves(r.inputs)
            if any(p in s for p in psks) and not r.is_secret(path)
        ]
        assert not leaked, f"{r.name} has a PSK in a non-secret input"
    assert not any(p in str(plan.outputs) for p in psks)


def test_outputs_describe_four_tunnels(stack_plan):
    tunnels = stack_plan.outputs["vpnTunnels"]
    assert len(tunnels) == 4
    assert len({t["inside_cidr"] for t in tunnels}) == 4
    assert {t["alibaba_tunnel"].split()[1] for t in tunnels} == {"master", "slave"}
    assert stack_plan.outputs["vpnAsns"]["aws"] != stack_plan.outputs["vpnAsns"]["alibaba"]
