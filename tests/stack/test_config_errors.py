"""Bad stack config stops the real program with the key and the fix, before any resource."""

import pytest

from offline import recorder
from offline.runner import run_offline
from railyard.config import ConfigError

TUNNELS = "railyard:vpnTunnelInsideCidrs"


@pytest.fixture
def registrations(monkeypatch):
    """Types of every resource the program registers during the test (the root stack aside)."""
    seen = []
    original = recorder.RecordingMonitor.RegisterResource

    def spy(self, request):
        if request.type != "pulumi:pulumi:Stack":
            seen.append(request.type)
        return original(self, request)

    monkeypatch.setattr(recorder.RecordingMonitor, "RegisterResource", spy)
    return seen


def fails(stack, overrides, registrations):
    with pytest.raises(ConfigError) as e:
        run_offline(stack, overrides)
    assert registrations == [], "the program registered resources before refusing its config"
    return {p.key: p for p in e.value.problems}, str(e.value)


def test_the_spy_sees_registrations_of_a_good_config(registrations):
    run_offline("dev")
    assert "aws:ec2/vpc:Vpc" in registrations


def test_overlapping_cidrs(registrations):
    found, text = fails("prod", {"railyard:alibabaVpcCidr": "10.20.0.0/16"}, registrations)
    assert "railyard:awsVpcCidr: 10.20.0.0/16 overlaps railyard:alibabaVpcCidr" in text
    assert found["railyard:awsVpcCidr"].fix


def test_bad_tunnel_slash30(registrations):
    bad = ["169.254.120.0/30", "169.254.169.252/30", "169.254.120.8/30", "169.254.120.12/30"]
    found, text = fails("prod", {TUNNELS: bad}, registrations)
    assert "which AWS and Alibaba Cloud reserves" in found[f"{TUNNELS}[1]"].message
    assert f"{TUNNELS}[1]" in text


def test_reserved_asn(registrations):
    found, _ = fails("dev", {"railyard:vpnAwsAsn": 7224}, registrations)
    assert "reserved by AWS" in found["railyard:vpnAwsAsn"].message


def test_too_long_lifetime(registrations):
    found, _ = fails("dev", {"railyard:vpnPhase1LifetimeSeconds": 86400}, registrations)
    assert "AWS limit" in found["railyard:vpnPhase1LifetimeSeconds"].message


def test_bad_psk(registrations):
    # A secure value whose plaintext breaks the AWS rules: stack files hold ciphertext, so the
    # override goes through the same path as a decrypted value.
    keys = ["0leadingzero", "valid_key_1", "valid_key_2", "valid_key_3"]
    found, text = fails("dev", {"railyard:vpnPreSharedKeys": keys}, registrations)
    assert "plaintext" in found["railyard:vpnPreSharedKeys"].message
    assert "starts with '0'" in found["railyard:vpnPreSharedKeys[0]"].message
    assert "0leadingzero" not in text


def test_value_of_the_wrong_declared_type(registrations):
    found, _ = fails("dev", {"railyard:vpnAwsAsn": "sixty-four"}, registrations)
    assert "must be of type integer" in found["railyard:vpnAwsAsn"].message


def test_unknown_stack():
    with pytest.raises(ConfigError, match=r"no Pulumi.staging.yaml.*\['dev', 'prod'\]"):
        run_offline("staging")


def test_service_worker_ttl_above_zero(registrations):
    found, _ = fails("dev", {"railyard:pwaEntrypointTtlSeconds": 3600}, registrations)
    assert "/sw.js" in found["railyard:pwaEntrypointTtlSeconds"].message


def test_unknown_region(registrations):
    found, _ = fails("prod", {"alicloud:region": "cn-atlantis"}, registrations)
    assert "unknown Alibaba Cloud region" in found["alicloud:region"].message


def test_certificate_without_domain(registrations):
    found, _ = fails("prod", {"railyard:pwaChinaDomain": ""}, registrations)
    assert "railyard:pwaChinaDomain is empty" in found["railyard:pwaChinaCertificateId"].message
