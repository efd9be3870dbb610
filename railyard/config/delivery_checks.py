"""Cross-field checks of the delivery targets (ECR, PWA on both CDNs) and the build farm."""

from __future__ import annotations

import re

from railyard import cache_rules
from railyard.config.errors import Problem
from railyard.config.model import AWS_REGIONS, StackConfig, full_key
from railyard_runtime import __version__ as runtime_version

ECR_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
ACM_ARN = re.compile(r"arn:aws:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}")


def check(c: StackConfig) -> list[Problem]:
    """Every delivery-target and build-farm problem of a parsed config."""
    return [*_check_ecr(c), *_check_pwa(c), *_check_build_farm(c)]


def _check_ecr(c: StackConfig) -> list[Problem]:
    problems = []
    key = full_key("ecrRepositories")
    for i, name in enumerate(c.ecr_repositories):
        if not (2 <= len(name) <= 256 and ECR_NAME.fullmatch(name)):
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    f"{name!r} is not a valid ECR repository name",
                    "use lowercase letters, digits, '.', '_', '-' and '/', e.g. backend/api",
                )
            )
    if c.steps_image_repository not in c.ecr_repositories:
        problems.append(
            Problem(
                full_key("stepsImageRepository"),
                f"{c.steps_image_repository!r} is not one of ecrRepositories",
                f"add {c.steps_image_repository!r} to railyard:ecrRepositories",
            )
        )
    if len(set(c.ecr_repositories)) != len(c.ecr_repositories):
        problems.append(Problem(key, "lists a repository twice", "list each repository once"))
    if c.ecr_keep_release_images < 1:
        problems.append(
            Problem(full_key("ecrKeepReleaseImages"), "must keep at least 1 image", "e.g. 50")
        )
    if not c.ecr_release_tag_prefixes or any(not p for p in c.ecr_release_tag_prefixes):
        problems.append(
            Problem(
                full_key("ecrReleaseTagPrefixes"),
                "needs non-empty prefixes",
                'e.g. ["dev_", "stage_", "prod_"]',
            )
        )
    key = full_key("ecrReplicationDestinations")
    for i, destination in enumerate(c.ecr_replication_destinations):
        account, _, region = destination.rpartition(":")
        if account and not re.fullmatch(r"\d{12}", account):
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    f"{account!r} is not an AWS account id",
                    "write account:region, e.g. 123456789012:us-west-2",
                )
            )
        if region not in AWS_REGIONS:
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    f"unknown AWS region {region!r}",
                    "use a region id such as us-west-2",
                )
            )
        elif not account and region == c.aws_region:
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    f"replicates {region} into itself",
                    "name another region or another account",
                )
            )
    return problems


def _check_pwa(c: StackConfig) -> list[Problem]:
    problems = []
    if c.pwa_entrypoint_ttl_seconds != 0:
        problems.append(
            Problem(
                full_key("pwaEntrypointTtlSeconds"),
                f"{c.pwa_entrypoint_ttl_seconds} s would let edges serve an old /sw.js, "
                "/index.html or /asset-manifest.json after a release or a rollback "
                "(clients would keep a stale service worker)",
                "set it to 0: entrypoints are always revalidated with the origin",
            )
        )
    if c.pwa_hashed_asset_ttl_seconds < 86400:
        problems.append(
            Problem(
                full_key("pwaHashedAssetTtlSeconds"),
                "is below a day; hashed assets never "
                "change, so a short TTL only costs origin traffic",
                "use 31536000",
            )
        )
    if not 0 <= c.pwa_default_ttl_seconds <= 86400:
        problems.append(
            Problem(full_key("pwaDefaultTtlSeconds"), "must be 0 to 86400 s", "e.g. 300")
        )
    key = full_key("pwaHashedAssetPaths")
    for i, pattern in enumerate(c.pwa_hashed_asset_paths):
        why = cache_rules.pattern_problem(pattern)
        if why:
            problems.append(Problem(f"{key}[{i}]", why, "use folder prefixes like /assets/*"))
    if c.pwa_keep_releases < 1:
        problems.append(Problem(full_key("pwaKeepReleases"), "must be at least 1", "e.g. 5"))
    problems += _domain_and_certificate(
        full_key("pwaAwsDomain"),
        c.pwa_aws_domain,
        full_key("pwaAwsCertificateArn"),
        c.pwa_aws_certificate_arn,
    )
    if c.pwa_aws_certificate_arn:
        match = ACM_ARN.fullmatch(c.pwa_aws_certificate_arn)
        if not match:
            problems.append(
                Problem(
                    full_key("pwaAwsCertificateArn"),
                    "is not an ACM certificate ARN",
                    "copy the ARN from ACM",
                )
            )
        elif match["region"] != "us-east-1":
            problems.append(
                Problem(
                    full_key("pwaAwsCertificateArn"),
                    f"is in {match['region']}; CloudFront only takes certificates from us-east-1",
                    "request the certificate in us-east-1",
                )
            )
    problems += _domain_and_certificate(
        full_key("pwaChinaDomain"),
        c.pwa_china_domain,
        full_key("pwaChinaCertificateId"),
        c.pwa_china_certificate_id,
        domain_needs_certificate=False,
    )
    return problems


def _domain_and_certificate(
    domain_key: str,
    domain: str,
    certificate_key: str,
    certificate: str,
    domain_needs_certificate: bool = True,
) -> list[Problem]:
    problems = []
    if domain and not DOMAIN.fullmatch(domain):
        problems.append(
            Problem(
                domain_key,
                f"{domain!r} is not a domain name",
                "use a lowercase name such as app.example.com",
            )
        )
    if certificate and not domain:
        problems.append(
            Problem(
                certificate_key,
                f"is set but {domain_key} is empty; a certificate serves a domain",
                f"set {domain_key} too, or unset {certificate_key}",
            )
        )
    if domain and not certificate and domain_needs_certificate:
        problems.append(
            Problem(
                domain_key,
                f"is set but {certificate_key} is empty; HTTPS on a "
                "custom domain needs a certificate",
                f"set {certificate_key}",
            )
        )
    return problems


def _check_build_farm(c: StackConfig) -> list[Problem]:
    problems = []
    lo, hi, want = c.build_farm_min_size, c.build_farm_max_size, c.build_farm_desired_size
    if hi < 1 or lo < 0 or not lo <= want <= hi:
        problems.append(
            Problem(
                full_key("buildFarmDesiredSize"),
                f"min {lo} <= desired {want} <= max {hi} does not hold (max must be at least 1)",
                "adjust buildFarmMinSize, buildFarmDesiredSize and buildFarmMaxSize",
            )
        )
    if not 0 <= c.build_farm_on_demand_base <= max(hi, 0):
        problems.append(
            Problem(full_key("buildFarmOnDemandBase"), f"must be 0 to max size {hi}", "lower it")
        )
    if c.is_production and c.build_farm_on_demand_base < 1:
        problems.append(
            Problem(
                full_key("buildFarmOnDemandBase"),
                "is 0 in prod: a spot reclaim could stop every Android build",
                "keep at least 1 on-demand host in prod",
            )
        )
    key = full_key("buildFarmSshCidrs")
    for i, cidr in enumerate(c.build_farm_ssh_cidrs):
        if cidr.prefixlen < 8:
            problems.append(
                Problem(
                    f"{key}[{i}]",
                    f"{cidr} opens SSH to (nearly) the whole internet",
                    "name your bastion or VPN range, or leave it empty",
                )
            )
    if not 1024 <= c.build_agent_port <= 65535:
        problems.append(
            Problem(
                full_key("buildAgentPort"),
                f"{c.build_agent_port} is not an unprivileged port",
                "use 1024-65535, e.g. 8443",
            )
        )
    if c.build_agent_version != runtime_version:
        problems.append(
            Problem(
                full_key("buildAgentVersion"),
                f"{c.build_agent_version} is not the runtime in this repository "
                f"({runtime_version}): the hosts would run other code than the tests checked",
                f"set it to {runtime_version} and publish that wheel to buildAgentPackageIndex",
            )
        )
    if not 40 <= c.build_farm_system_disk_gb <= 2048:
        problems.append(
            Problem(full_key("buildFarmSystemDiskGb"), "must be 40-2048 GiB", "e.g. 200")
        )
    if c.apk_retention_days < 1:
        problems.append(Problem(full_key("apkRetentionDays"), "must be at least 1 day", "e.g. 90"))
    return problems
