from ipaddress import IPv4Network as Net

import pytest

from railyard import ipsec

CIDRS = [Net(f"169.254.100.{i * 4}/30") for i in range(4)]


def test_every_aws_tunnel_is_used_once_and_each_alibaba_connection_has_master_and_slave():
    tunnels = ipsec.plan_tunnels(CIDRS)
    assert sorted((t.aws_connection, t.aws_tunnel) for t in tunnels) == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
    ]
    for k in (0, 1):
        roles = sorted(t.alibaba_role for t in tunnels if t.alibaba_connection == k)
        assert roles == ["master", "slave"]


def test_master_tunnels_pair_with_the_aws_connection_of_the_gateways_first_ip():
    for t in ipsec.plan_tunnels(CIDRS):
        if t.alibaba_role == "master":
            assert t.alibaba_gateway_ip == "internet_ip"
            assert t.aws_connection == 0
        else:
            assert t.alibaba_gateway_ip == "disaster_recovery_internet_ip"
            assert t.aws_connection == 1


def test_inside_addresses_follow_aws_convention():
    t = ipsec.plan_tunnels(CIDRS)[1]
    assert (t.aws_inside_ip, t.alibaba_inside_ip) == ("169.254.100.5", "169.254.100.6")


def test_plan_needs_exactly_four_cidrs():
    with pytest.raises(ValueError, match="need 4"):
        ipsec.plan_tunnels(CIDRS[:3])


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("169.254.100.0/29", "/30"),
        ("10.0.0.0/30", "outside"),
        ("169.254.0.0/30", "reserves"),
        ("169.254.5.252/30", "reserves"),
        ("169.254.169.252/30", "reserves"),
        # Alibaba's CreateVpnConnection refuses 169.254.0.0/30 - 169.254.6.0/30 as TunnelCidr
        ("169.254.6.0/30", "Alibaba Cloud reserves"),
    ],
)
def test_inside_cidrs_either_cloud_refuses(cidr, why):
    assert why in ipsec.inside_cidr_problem(Net(cidr))


@pytest.mark.parametrize("cidr", ["169.254.6.4/30", "169.254.169.248/30", "169.254.255.252/30"])
def test_inside_cidrs_both_clouds_accept(cidr):
    assert ipsec.inside_cidr_problem(Net(cidr)) is None


def test_allocation_skips_reserved_blocks():
    assert ipsec.allocate_inside_cidrs(Net("169.254.4.0/22"))[0] == Net("169.254.6.4/30")
    with pytest.raises(ValueError, match="holds only"):
        ipsec.allocate_inside_cidrs(Net("169.254.0.0/23"))


@pytest.mark.parametrize(
    ("asn", "ok"),
    [(64512, True), (65534, True), (64511, False), (65535, False), (7224, False), (45104, False)],
)
def test_asns(asn, ok):
    assert (ipsec.asn_problem(asn) is None) is ok


@pytest.mark.parametrize(
    ("psk", "why"),
    [("short", "8 to 64"), ("x" * 65, "8 to 64"), ("0abcdefgh", "'0'"), ("abc-defgh", "letters")],
)
def test_bad_psks_are_named_without_echoing_the_key(psk, why):
    message = ipsec.psk_problem(psk)
    assert why in message
    assert psk not in message


def test_good_psk():
    assert ipsec.psk_problem("Abc.def_123") is None


def test_both_renderings_read_back_to_the_same_proposal():
    proposal = ipsec.IpsecProposal(phase1_lifetime_seconds=14400, phase2_lifetime_seconds=1800)
    for n in (1, 2):
        assert ipsec.proposal_from_aws(proposal.aws_tunnel_args(n), n) == proposal
    alibaba = ipsec.proposal_from_alibaba(
        proposal.alibaba_ike_config(), proposal.alibaba_ipsec_config()
    )
    assert alibaba == proposal


def test_aws_side_offers_exactly_one_choice_per_setting():
    args = ipsec.IpsecProposal().aws_tunnel_args(1)
    args["tunnel1_phase1_dh_group_numbers"] = [14, 2]
    with pytest.raises(ValueError, match="exactly one"):
        ipsec.proposal_from_aws(args, 1)


def test_reading_back_camel_case_engine_inputs():
    args = ipsec.IpsecProposal().aws_tunnel_args(2)
    camel = {
        "tunnel2" + "".join(w.title() for w in k.removeprefix("tunnel2_").split("_")): v
        for k, v in args.items()
    }
    assert ipsec.proposal_from_aws(camel, 2) == ipsec.IpsecProposal()
