"""Delivery-target and build-farm rules of railyard.config."""

import json

import pytest

import railyard_runtime
from railyard import config
from tests.unit.test_config import VALID, problems


def test_defaults_are_valid():
    c = config.load(VALID)
    assert c.pwa_entrypoint_ttl_seconds == 0
    assert c.pwa_hashed_asset_paths == ["/assets/*", "/static/*"]
    assert c.build_farm_min_size <= c.build_farm_desired_size <= c.build_farm_max_size


def test_entrypoint_ttl_above_zero_is_refused_with_the_reason():
    p = problems({"railyard:pwaEntrypointTtlSeconds": 60})["railyard:pwaEntrypointTtlSeconds"]
    assert "/sw.js" in p.message and "stale service worker" in p.message
    assert "set it to 0" in p.fix


def test_hashed_pattern_covering_the_entrypoints_is_refused():
    found = problems({"railyard:pwaHashedAssetPaths": json.dumps(["/*"])})
    assert "covers" in found["railyard:pwaHashedAssetPaths[0]"].message


def test_short_hashed_asset_ttl_is_refused():
    assert (
        "below a day"
        in problems({"railyard:pwaHashedAssetTtlSeconds": 60})[
            "railyard:pwaHashedAssetTtlSeconds"
        ].message
    )


@pytest.mark.parametrize(
    ("cert_key", "cert", "domain_key"),
    [
        (
            "railyard:pwaAwsCertificateArn",
            "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-4000-8000-000000000000",
            "railyard:pwaAwsDomain",
        ),
        ("railyard:pwaChinaCertificateId", "10000001", "railyard:pwaChinaDomain"),
    ],
)
def test_certificate_without_domain(cert_key, cert, domain_key):
    p = problems({cert_key: cert})[cert_key]
    assert f"{domain_key} is empty" in p.message


def test_aws_domain_without_certificate():
    p = problems({"railyard:pwaAwsDomain": "app.example.com"})["railyard:pwaAwsDomain"]
    assert "needs a certificate" in p.message


def test_acm_certificate_outside_us_east_1():
    arn = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-4000-8000-000000000000"
    found = problems(
        {"railyard:pwaAwsDomain": "app.example.com", "railyard:pwaAwsCertificateArn": arn}
    )
    assert (
        "only takes certificates from us-east-1" in found["railyard:pwaAwsCertificateArn"].message
    )


def test_bad_domain_name():
    assert (
        "not a domain name"
        in problems({"railyard:pwaChinaDomain": "Not A Domain"})["railyard:pwaChinaDomain"].message
    )


@pytest.mark.parametrize(
    ("destination", "why"),
    [
        ("us-west-9", "unknown AWS region"),
        ("12:us-west-2", "not an AWS account id"),
        ("us-east-1", "into itself"),
    ],
)
def test_bad_replication_destination(destination, why):
    found = problems({"railyard:ecrReplicationDestinations": json.dumps([destination])})
    assert why in found["railyard:ecrReplicationDestinations[0]"].message


def test_cross_account_replication_into_the_same_region_is_fine():
    c = config.load({**VALID, "railyard:ecrReplicationDestinations": '["111122223333:us-east-1"]'})
    assert c.ecr_replication_destinations == ["111122223333:us-east-1"]


def test_bad_and_duplicate_repository_names():
    found = problems({"railyard:ecrRepositories": json.dumps(["Backend/API", "a/b", "a/b"])})
    assert "not a valid ECR repository name" in found["railyard:ecrRepositories[0]"].message
    assert "twice" in found["railyard:ecrRepositories"].message


@pytest.mark.parametrize(
    "sizes",
    [
        {"railyard:buildFarmMinSize": 3, "railyard:buildFarmDesiredSize": 1},
        {"railyard:buildFarmMaxSize": 0, "railyard:buildFarmDesiredSize": 0},
    ],
)
def test_farm_sizes_out_of_order(sizes):
    assert "railyard:buildFarmDesiredSize" in problems(sizes)


def test_prod_needs_an_on_demand_host():
    p = problems({"railyard:environment": "prod"})["railyard:buildFarmOnDemandBase"]
    assert "spot reclaim" in p.message


def test_ssh_from_the_internet_is_refused():
    found = problems({"railyard:buildFarmSshCidrs": '["0.0.0.0/0"]'})
    assert "whole internet" in found["railyard:buildFarmSshCidrs[0]"].message


def test_privileged_agent_port():
    found = problems({"railyard:buildAgentPort": 80})
    assert "unprivileged" in found["railyard:buildAgentPort"].message


def test_agent_version_must_be_pinned():
    found = problems({"railyard:buildAgentVersion": "latest"})
    assert "railyard:buildAgentVersion" in found


def test_agent_version_must_be_the_runtime_in_this_repository():
    found = problems({"railyard:buildAgentVersion": "9.9.9"})
    p = found["railyard:buildAgentVersion"]
    assert railyard_runtime.__version__ in p.message
    assert f"set it to {railyard_runtime.__version__}" in p.fix


def test_steps_image_repository_must_be_created():
    found = problems({"railyard:stepsImageRepository": "tools/steps"})
    assert "add 'tools/steps' to railyard:ecrRepositories" in (
        found["railyard:stepsImageRepository"].fix
    )


@pytest.mark.parametrize(
    "key", ["railyard:buildAgentAndroidRepo", "railyard:buildAgentPackageIndex"]
)
def test_agent_sources_must_be_urls(key):
    assert key in problems({key: "not a url"})
