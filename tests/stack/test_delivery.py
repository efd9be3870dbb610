"""ECR and the PWA on both CDNs, as the real program registers them for dev and prod."""

import json
import re

import pytest

from offline.mocks import FAKE_ACCOUNT
from offline.runner import run_offline
from railyard import cache_rules
from tests.harness import by_id, plan_for

ENTRY_TTLS = (0, 0, 0)
YEAR = 31536000


def test_ecr_repositories_are_immutable_scanned_and_encrypted(stack_plan):
    repos = stack_plan.of_type("aws:ecr/repository:Repository")
    assert {r.inputs["name"] for r in repos} >= {"railyard/steps", "backend/api"}
    for r in repos:
        assert r.inputs["imageTagMutability"] == "IMMUTABLE"
        assert r.inputs["imageScanningConfiguration"]["scanOnPush"] is True
        assert r.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"


def test_every_repository_has_the_lifecycle_policy(stack_plan):
    repos = {r.inputs["name"] for r in stack_plan.of_type("aws:ecr/repository:Repository")}
    policies = stack_plan.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert {p.inputs["repository"] for p in policies} == repos
    rules = json.loads(policies[0].inputs["policy"])["rules"]
    assert rules[0]["selection"]["tagStatus"] == "untagged"
    kept = {r["selection"]["tagPrefixList"][0]: r["selection"]["countNumber"] for r in rules[1:]}
    assert set(kept) == {"dev_", "stage_", "prod_"}
    assert set(kept.values()) == {30 if stack_plan.stack == "dev" else 100}


def test_replication_only_where_configured(stack_plan):
    replications = stack_plan.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    if stack_plan.stack == "dev":
        assert replications == []
        return
    (rule,) = replications[0].inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "us-west-2", "registryId": FAKE_ACCOUNT}]
    repos = {r.inputs["name"] for r in stack_plan.of_type("aws:ecr/repository:Repository")}
    assert {f["filter"] for f in rule["repositoryFilters"]} == repos


S3 = "aws:s3/"
BUCKET_GUARDS = {
    f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock": lambda i: all(
        i[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    ),
    f"{S3}bucketOwnershipControls:BucketOwnershipControls": lambda i: (
        i["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    ),
    f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        lambda i: i["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    ),
    f"{S3}bucketVersioning:BucketVersioning": lambda i: (
        i["versioningConfiguration"]["status"] == "Enabled"
    ),
}


@pytest.mark.parametrize("guard", BUCKET_GUARDS)
def test_no_s3_bucket_is_public_and_all_are_encrypted_and_versioned(stack_plan, guard):
    buckets = {b.id for b in stack_plan.of_type(f"{S3}bucket:Bucket")}
    assert buckets
    check = BUCKET_GUARDS[guard]
    assert {r.inputs["bucket"] for r in stack_plan.of_type(guard) if check(r.inputs)} == buckets


def test_pwa_bucket_keeps_the_last_n_versions(stack_plan):
    (lifecycle,) = stack_plan.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        under="railyard:delivery:PwaAwsSite",
    )
    expiry = lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]
    assert expiry["newerNoncurrentVersions"] == {"dev": 5, "prod": 10}[stack_plan.stack]


def test_no_oss_bucket_is_public_and_all_are_encrypted(stack_plan):
    names = {b.outputs["bucket"] for b in stack_plan.of_type("alicloud:oss/bucket:Bucket")}
    assert len(names) == 2  # PWA and APKs
    acls = {
        a.inputs["bucket"]: a.inputs["acl"]
        for a in stack_plan.of_type("alicloud:oss/bucketAcl:BucketAcl")
    }
    assert acls == dict.fromkeys(names, "private")
    blocks = stack_plan.of_type("alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert {b.inputs["bucket"] for b in blocks if b.inputs["blockPublicAccess"]} == names
    sse = stack_plan.of_type("alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption")
    assert {s.inputs["bucket"] for s in sse if s.inputs["sseAlgorithm"] == "AES256"} == names
    assert all("acl" not in b.inputs for b in stack_plan.of_type("alicloud:oss/bucket:Bucket"))


def test_cloudfront_reads_the_bucket_only_through_oac_over_https(stack_plan):
    dist = stack_plan.one("aws:cloudfront/distribution:Distribution")
    oac = stack_plan.one("aws:cloudfront/originAccessControl:OriginAccessControl")
    assert oac.inputs["signingBehavior"] == "always" and oac.inputs["signingProtocol"] == "sigv4"
    (origin,) = dist.inputs["origins"]
    assert origin["originAccessControlId"] == oac.id
    bucket = stack_plan.one("aws:s3/bucket:Bucket", under="railyard:delivery:PwaAwsSite")
    assert origin["domainName"] == bucket.outputs["bucketRegionalDomainName"]
    assert "s3OriginConfig" not in origin  # no legacy OAI
    assert dist.inputs["httpVersion"] == "http2and3"
    behaviors = [dist.inputs["defaultCacheBehavior"], *dist.inputs["orderedCacheBehaviors"]]
    assert {b["viewerProtocolPolicy"] for b in behaviors} == {"redirect-to-https"}
    headers = stack_plan.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    assert {b["responseHeadersPolicyId"] for b in behaviors} == {headers.id}
    assert (
        headers.inputs["securityHeadersConfig"]["strictTransportSecurity"]["accessControlMaxAgeSec"]
        >= 31536000
    )


def test_bucket_policy_is_scoped_to_the_distribution(stack_plan):
    dist = stack_plan.one("aws:cloudfront/distribution:Distribution")
    policy = json.loads(stack_plan.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1
    assert allow[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow[0]["Action"] == "s3:GetObject"
    assert allow[0]["Condition"] == {"StringEquals": {"AWS:SourceArn": dist.outputs["arn"]}}


def cloudfront_ttls_by_pattern(plan):
    dist = plan.one("aws:cloudfront/distribution:Distribution")
    policies = by_id(plan, "aws:cloudfront/cachePolicy:CachePolicy")

    def ttls(behavior):
        p = policies[behavior["cachePolicyId"]].inputs
        return p["minTtl"], p["defaultTtl"], p["maxTtl"]

    found = {b["pathPattern"]: ttls(b) for b in dist.inputs["orderedCacheBehaviors"]}
    found["*"] = ttls(dist.inputs["defaultCacheBehavior"])
    return found


def test_cloudfront_entrypoints_no_cache_and_hashed_assets_immutable(stack_plan):
    found = cloudfront_ttls_by_pattern(stack_plan)
    for entrypoint in cache_rules.ENTRYPOINTS:
        assert found[entrypoint] == ENTRY_TTLS
    assert found["/assets/*"] == found["/static/*"] == (YEAR, YEAR, YEAR)
    assert found["*"] == (0, 300, 300)
    ordered = [
        b["pathPattern"]
        for b in stack_plan.one("aws:cloudfront/distribution:Distribution").inputs[
            "orderedCacheBehaviors"
        ]
    ]
    assert ordered[:3] == list(cache_rules.ENTRYPOINTS)  # first match wins: entrypoints first


def test_spa_fallback_and_certificates(stack_plan):
    dist = stack_plan.one("aws:cloudfront/distribution:Distribution")
    fallbacks = {e["errorCode"]: e["responsePagePath"] for e in dist.inputs["customErrorResponses"]}
    assert fallbacks == {403: "/index.html", 404: "/index.html"}
    cert = dist.inputs["viewerCertificate"]
    if stack_plan.stack == "prod":
        assert cert["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
        assert cert["minimumProtocolVersion"] == "TLSv1.2_2021"
        assert dist.inputs["aliases"] == ["app.railyard.example.com"]
    else:
        assert cert == {"cloudfrontDefaultCertificate": True}


def alibaba_functions(plan):
    return [
        (c.inputs["functionName"], {a["argName"]: a["argValue"] for a in c.inputs["functionArgs"]})
        for c in plan.of_type("alicloud:cdn/domainConfig:DomainConfig")
    ]


def test_alibaba_cdn_fronts_the_private_pwa_bucket(stack_plan):
    cdn = stack_plan.one("alicloud:cdn/domainNew:DomainNew")
    pwa = [
        b
        for b in stack_plan.of_type("alicloud:oss/bucket:Bucket")
        if "-pwa-" in b.outputs["bucket"]
    ]
    (bucket,) = pwa
    (source,) = cdn.inputs["sources"]
    assert source["type"] == "oss"
    assert source["content"] == f"{bucket.outputs['bucket']}.{bucket.outputs['extranetEndpoint']}"
    assert ("l2_oss_key", {"private_oss_auth": "on"}) in alibaba_functions(stack_plan)
    domains = {
        c.inputs["domainName"] for c in stack_plan.of_type("alicloud:cdn/domainConfig:DomainConfig")
    }
    assert domains == {cdn.inputs["domainName"]}


def test_alibaba_cdn_has_the_same_cache_rules(stack_plan):
    ttl = {
        args["path"]: args
        for name, args in alibaba_functions(stack_plan)
        if name == "path_based_ttl_set"
    }
    for entrypoint in cache_rules.ENTRYPOINTS:
        assert ttl[entrypoint]["ttl"] == "1"  # the API's smallest TTL; the origin's no-cache wins
        assert ttl[entrypoint]["swift_origin_cache_high"] == "on"
        assert ttl[entrypoint]["swift_no_cache_low"] == "off"  # "on" ignores no-cache
        assert ttl[entrypoint]["force_revalidate"] == "on"
    assert ttl["/assets/"]["ttl"] == ttl["/static/"]["ttl"] == str(YEAR)
    assert min(int(ttl[e]["weight"]) for e in cache_rules.ENTRYPOINTS) > int(
        ttl["/assets/"]["weight"]
    )


def test_alibaba_https_only_with_a_certificate(stack_plan):
    cdn = stack_plan.one("alicloud:cdn/domainNew:DomainNew")
    names = {name for name, _ in alibaba_functions(stack_plan)}
    if stack_plan.stack == "prod":
        assert cdn.inputs["certificateConfig"]["certType"] == "cas"
        assert ("https_force", {"enable": "on"}) in alibaba_functions(stack_plan)
    else:
        assert "certificateConfig" not in cdn.inputs
        assert "https_force" not in names


def test_pwa_outputs_for_the_publish_step():
    pwa = plan_for("dev").outputs["pwa"]
    assert pwa["s3Bucket"] and pwa["cloudfrontDistributionId"] and pwa["ossBucket"]
    assert pwa["alibabaCdnDomain"] == "pwa-dev.railyard.example.cn"
    assert pwa["url"].startswith("https://") and pwa["url"].endswith(".cloudfront.net")


def test_alibaba_cdn_configs_are_applied_one_at_a_time(stack_plan):
    configs = stack_plan.of_type("alicloud:cdn/domainConfig:DomainConfig")
    urns = {c.urn for c in configs}
    chained = [c for c in configs if urns & set(c.dependencies)]
    assert len(chained) == len(configs) - 1  # every config but the first waits for another


def test_alibaba_cdn_serves_the_app_shell_for_root_and_client_routes(stack_plan):
    """A private OSS origin has no index document: the CDN fetches /index.html for them."""
    functions = alibaba_functions(stack_plan)
    (rewrite,) = [a for n, a in functions if n == "back_to_origin_url_rewrite"]
    assert (rewrite["target_url"], rewrite["flag"]) == ("/index.html", "break")
    source = re.compile(rewrite["source_url"])
    for route in ("/", "/orders/42", "/settings/"):
        assert source.fullmatch(route), route
    for real_file in ("/sw.js", "/index.html", "/assets/app.1a2b3c4d.js", "/favicon.ico"):
        assert not source.fullmatch(real_file), real_file
    # after private-bucket signing is on (each config waits for the one before it)
    names = [n for n, _ in functions]
    assert names.index("l2_oss_key") < names.index("back_to_origin_url_rewrite")


def test_no_alibaba_rewrite_without_the_spa_fallback():
    plan = run_offline("dev", {"railyard:pwaSpaFallback": False})
    names = [n for n, _ in alibaba_functions(plan)]
    assert "back_to_origin_url_rewrite" not in names and "l2_oss_key" in names
