from ipaddress import IPv4Network as Net

import pytest

from railyard import cidr


def test_aws_plan_gives_each_zone_a_large_private_and_a_small_public_subnet():
    private, public = cidr.aws_subnet_plan(Net("10.20.0.0/16"), 3)
    assert private == [Net("10.20.0.0/19"), Net("10.20.32.0/19"), Net("10.20.64.0/19")]
    assert public == [Net("10.20.224.0/22"), Net("10.20.228.0/22"), Net("10.20.232.0/22")]


@pytest.mark.parametrize("vpc", ["10.0.0.0/16", "172.16.0.0/20", "192.168.0.0/22"])
@pytest.mark.parametrize("zones", [1, 2, 3, 6])
def test_aws_plan_stays_inside_the_vpc_without_overlap(vpc, zones):
    private, public = cidr.aws_subnet_plan(Net(vpc), zones)
    assert len(private) == len(public) == zones
    assert not cidr.outside(Net(vpc), private + public)
    assert not cidr.overlapping_pairs((str(n), n) for n in private + public)
    assert all(n.prefixlen <= 28 for n in public)  # AWS's smallest subnet


def test_aws_plan_refuses_a_vpc_too_small_or_too_many_zones():
    with pytest.raises(cidr.CidrPlanError, match="too small"):
        cidr.aws_subnet_plan(Net("10.0.0.0/24"), 2)
    with pytest.raises(cidr.CidrPlanError, match="1 to 6 zones"):
        cidr.aws_subnet_plan(Net("10.0.0.0/16"), 7)


def test_alibaba_plan_gives_one_sixteenth_per_zone():
    assert cidr.alibaba_vswitch_plan(Net("10.60.0.0/16"), 2) == [
        Net("10.60.0.0/20"),
        Net("10.60.16.0/20"),
    ]
    with pytest.raises(cidr.CidrPlanError):
        cidr.alibaba_vswitch_plan(Net("10.60.0.0/28"), 2)


def test_overlapping_pairs_names_each_overlapping_pair_once():
    ranges = [("a", Net("10.0.0.0/8")), ("b", Net("10.1.0.0/16")), ("c", Net("192.168.0.0/16"))]
    assert cidr.overlapping_pairs(ranges) == [("a", "b")]
