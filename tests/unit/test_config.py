"""railyard.config on its own: every rule, each problem naming its key. No Pulumi program."""

import json

import pytest

from railyard import config

VALID = {
    "railyard:environment": "dev",
    "aws:region": "us-east-1",
    "alicloud:region": "cn-hangzhou",
    "railyard:awsVpcCidr": "10.10.0.0/16",
    "railyard:awsAvailabilityZones": json.dumps(["us-east-1a", "us-east-1b"]),
    "railyard:alibabaVpcCidr": "10.60.0.0/16",
    "railyard:alibabaZones": json.dumps(["cn-hangzhou-i", "cn-hangzhou-j"]),
    "railyard:ecrRepositories": json.dumps(["railyard/steps"]),
    "railyard:buildFarmImageId": "ubuntu_22_04_x64_20G_alibase_20240926.vhd",
    "railyard:buildFarmInstanceTypes": json.dumps(["ecs.c7.2xlarge"]),
    "railyard:buildAgentVersion": "0.1.0",
    "railyard:buildAgentPackageIndex": "https://packages.example.com/pypi/simple/",
    "railyard:buildAgentAndroidRepo": "https://git.example.com/mobile/android-app.git",
    "railyard:releaseGitBaseUrl": "https://github.com/acme/",
    "railyard:releaseBackendRepo": "backend",
    "railyard:releaseBackendOverlay": "deploy/overlays/dev",
    "railyard:releaseBackendWorkload": "deployment/api",
    "railyard:releaseCodeScanningRepo": "acme/backend",
    "railyard:kanbanBoardUrl": "https://kanban.example.com",
}
PSKS_KEY = "railyard:vpnPreSharedKeys"


def problems(overrides=None, secret_keys=(), drop=()):
    raw = {k: v for k, v in {**VALID, **(overrides or {})}.items() if k not in drop}
    with pytest.raises(config.ConfigError) as e:
        config.load(raw, secret_keys)
    return {p.key: p for p in e.value.problems}


def test_minimal_config_is_completed_by_plans_and_defaults():
    c = config.load(VALID)
    assert [str(n) for n in c.aws_private_subnet_cidrs] == ["10.10.0.0/19", "10.10.32.0/19"]
    assert len(c.alibaba_vswitch_cidrs) == 2
    assert str(c.vpn_tunnel_inside_cidrs[0]) == "169.254.100.0/30"
    assert c.aws_nat_gateways == "perAz"
    assert c.proposal().phase1_lifetime_seconds == 28800
    assert c.vpn_pre_shared_keys is None


def test_values_typed_as_in_a_stack_file_are_accepted_too():
    raw = {
        **VALID,
        "railyard:awsAvailabilityZones": ["us-east-1a", "us-east-1b"],
        "railyard:vpnAwsAsn": 64600,
    }
    assert config.load(raw).vpn_aws_asn == 64600
    assert config.load({**VALID, "railyard:vpnAwsAsn": "64600"}).vpn_aws_asn == 64600


def test_missing_keys_are_each_named():
    found = problems(drop=["railyard:awsVpcCidr", "aws:region"])
    assert found["railyard:awsVpcCidr"].message == "is required"
    assert "10.10.0.0/16" in found["railyard:awsVpcCidr"].fix
    assert "aws:region" in found


def test_a_typo_in_a_key_suggests_the_right_one():
    found = problems({"railyard:awsVpcCdir": "10.0.0.0/16"})
    assert "did you mean railyard:awsVpcCidr" in found["railyard:awsVpcCdir"].fix


def test_malformed_cidr_and_list_are_named():
    found = problems({"railyard:awsVpcCidr": "10.0.0.0/33", "railyard:alibabaZones": "[oops"})
    assert "not an IPv4 CIDR" in found["railyard:awsVpcCidr"].message
    assert "not a list" in found["railyard:alibabaZones"].message


def test_overlapping_vpcs():
    found = problems({"railyard:alibabaVpcCidr": "10.10.128.0/17"})
    p = found["railyard:awsVpcCidr"]
    assert "overlaps railyard:alibabaVpcCidr" in p.message
    assert "do not overlap" in p.fix


def test_service_cidr_overlapping_a_vpc():
    found = problems({"railyard:eksServiceCidr": "10.60.0.0/16"})
    assert "overlaps railyard:eksServiceCidr" in found["railyard:alibabaVpcCidr"].message


def test_subnet_outside_its_vpc():
    subnets = json.dumps(["10.99.0.0/20", "10.10.0.0/20"])
    found = problems({"railyard:awsPrivateSubnetCidrs": subnets})
    assert (
        "10.99.0.0/20 is not inside the VPC 10.10.0.0/16"
        in found["railyard:awsPrivateSubnetCidrs"].message
    )


def test_subnet_list_of_the_wrong_length():
    found = problems({"railyard:alibabaVswitchCidrs": json.dumps(["10.60.0.0/20"])})
    assert "1 entries for 2 zones" in found["railyard:alibabaVswitchCidrs"].message


def test_overlapping_subnets_in_one_vpc():
    found = problems(
        {
            "railyard:awsPrivateSubnetCidrs": json.dumps(["10.10.0.0/19", "10.10.32.0/19"]),
            "railyard:awsPublicSubnetCidrs": json.dumps(["10.10.0.0/24", "10.10.224.0/22"]),
        }
    )
    assert (
        "overlaps railyard:awsPublicSubnetCidrs[0]"
        in found["railyard:awsPrivateSubnetCidrs[0]"].message
    )


def test_vpc_too_small_to_plan():
    found = problems({"railyard:awsVpcCidr": "10.10.0.0/24"})
    assert "too small" in found["railyard:awsVpcCidr"].message


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("169.254.100.0/29", "/30"),
        ("169.254.2.0/30", "AWS and Alibaba Cloud reserves"),
        ("10.0.0.0/30", "outside"),
    ],
)
def test_bad_tunnel_inside_cidr(cidr, why):
    cidrs = [cidr, "169.254.100.4/30", "169.254.100.8/30", "169.254.100.12/30"]
    found = problems({"railyard:vpnTunnelInsideCidrs": json.dumps(cidrs)})
    assert why in found["railyard:vpnTunnelInsideCidrs[0]"].message


def test_duplicate_tunnel_inside_cidrs():
    cidrs = ["169.254.100.0/30", "169.254.100.0/30", "169.254.100.8/30", "169.254.100.12/30"]
    found = problems({"railyard:vpnTunnelInsideCidrs": json.dumps(cidrs)})
    assert "own /30" in found["railyard:vpnTunnelInsideCidrs[0]"].message


def test_wrong_number_of_tunnel_inside_cidrs():
    found = problems({"railyard:vpnTunnelInsideCidrs": json.dumps(["169.254.100.0/30"])})
    assert "4 tunnels" in found["railyard:vpnTunnelInsideCidrs"].message


@pytest.mark.parametrize(
    ("asn", "why"), [(7224, "reserved by AWS"), (45104, "Alibaba"), (65535, "not a private ASN")]
)
def test_unusable_asn(asn, why):
    found = problems({"railyard:vpnAlibabaAsn": asn})
    assert why in found["railyard:vpnAlibabaAsn"].message


def test_same_asn_on_both_sides():
    found = problems({"railyard:vpnAwsAsn": 65010, "railyard:vpnAlibabaAsn": 65010})
    assert "two different ASNs" in found["railyard:vpnAlibabaAsn"].message


def test_phase1_lifetime_above_the_aws_maximum():
    found = problems({"railyard:vpnPhase1LifetimeSeconds": 86400})
    p = found["railyard:vpnPhase1LifetimeSeconds"]
    assert "outside 900-28800" in p.message and "28800" in p.fix


def test_phase2_lifetime_above_the_aws_maximum_or_not_below_phase1():
    assert (
        "outside 900-3600"
        in problems({"railyard:vpnPhase2LifetimeSeconds": 7200})[
            "railyard:vpnPhase2LifetimeSeconds"
        ].message
    )
    found = problems(
        {"railyard:vpnPhase1LifetimeSeconds": 1800, "railyard:vpnPhase2LifetimeSeconds": 1800}
    )
    assert "below" in found["railyard:vpnPhase2LifetimeSeconds"].message


def test_bad_psk_is_named_by_index_and_never_echoed():
    keys = ["0startswithzero", "goodkey123", "goodkey456", "goodkey789"]
    with pytest.raises(config.ConfigError) as e:
        config.load({**VALID, PSKS_KEY: json.dumps(keys)}, secret_keys=[PSKS_KEY])
    found = {p.key: p for p in e.value.problems}
    assert "starts with '0'" in found[f"{PSKS_KEY}[0]"].message
    assert "0startswithzero" not in str(e.value)


def test_psk_of_wrong_length_and_wrong_count():
    with pytest.raises(config.ConfigError) as e:
        config.load({**VALID, PSKS_KEY: json.dumps(["short"])}, secret_keys=[PSKS_KEY])
    found = {p.key: p for p in e.value.problems}
    assert "8 to 64" in found[f"{PSKS_KEY}[0]"].message
    assert "4 tunnels" in found[PSKS_KEY].message
    assert "short" not in str(e.value)


def test_psks_in_plaintext_config_are_refused():
    keys = ["goodkey123", "goodkey456", "goodkey789", "goodkey000"]
    found = problems({PSKS_KEY: json.dumps(keys)})
    assert "plaintext" in found[PSKS_KEY].message
    assert "--secret" in found[PSKS_KEY].fix


def test_valid_secret_psks_are_kept_as_secret_strings():
    keys = ["goodkey123", "goodkey456", "goodkey789", "goodkey000"]
    c = config.load({**VALID, PSKS_KEY: json.dumps(keys)}, secret_keys=[PSKS_KEY])
    assert [k.get_secret_value() for k in c.vpn_pre_shared_keys] == keys
    assert "goodkey123" not in repr(c)


def test_unknown_regions_and_zones_of_another_region():
    found = problems(
        {"aws:region": "us-east-9", "railyard:alibabaZones": '["cn-beijing-a", "cn-hangzhou-j"]'}
    )
    assert "unknown AWS region" in found["aws:region"].message
    assert "cn-beijing-a" in found["railyard:alibabaZones"].message


def test_duplicate_zone():
    found = problems({"railyard:awsAvailabilityZones": '["us-east-1a", "us-east-1a"]'})
    assert "twice" in found["railyard:awsAvailabilityZones"].message


def test_vpn_bandwidth_must_be_a_gateway_size():
    assert (
        "not an Alibaba"
        in problems({"railyard:vpnBandwidthMbps": 15})["railyard:vpnBandwidthMbps"].message
    )


def test_error_lists_every_problem_with_key_and_fix():
    with pytest.raises(config.ConfigError) as e:
        config.load({**VALID, "railyard:vpnAwsAsn": 7224, "railyard:vpnBandwidthMbps": 15})
    text = str(e.value)
    assert "2 problem(s)" in text
    assert "- railyard:vpnAwsAsn: 7224 is reserved by AWS. Fix:" in text
