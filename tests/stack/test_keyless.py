"""No long-lived cloud key: release pods reach Alibaba through RAM OIDC federation.

The EKS cluster's issuer is a RAM identity provider; one RAM role trusts exactly the workflow
service account's token (issuer, audience and subject); the templates project that token for
Alibaba STS into the steps that publish to OSS or refresh the CDN.
"""

from __future__ import annotations

import json

import pytest

from offline.runner import run_offline
from railyard import ram_policies
from tests.harness import k8s_named, plan_for

IDP = "alicloud:ims/oidcProvider:OidcProvider"
ROLE = "alicloud:ram/role:Role"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"
ALIBABA_STEPS = {"pwa-publish", "pwa-verify", "android-publish"}


def release_role(plan):
    (role,) = [r for r in plan.of_type(ROLE) if r.inputs["roleName"].endswith("-release-workflows")]
    return role


def test_no_ram_user_or_access_key_is_created(stack_plan):
    assert not stack_plan.of_type("alicloud:ram/user:User")
    assert not stack_plan.of_type("alicloud:ram/accessKey:AccessKey")
    assert not stack_plan.of_type("alicloud:ram/userPolicyAttachment:UserPolicyAttachment")


def test_the_cluster_issuer_is_a_ram_identity_provider(stack_plan):
    cluster = stack_plan.one("eks:index:Cluster")
    idp = stack_plan.one(IDP).inputs
    assert idp["issuerUrl"] == f"https://{cluster.outputs['oidcIssuer']}"
    assert idp["clientIds"] == [ram_policies.STS_AUDIENCE]


def test_the_release_role_trusts_exactly_the_workflow_service_account(stack_plan):
    idp = stack_plan.one(IDP)
    trust = json.loads(release_role(stack_plan).inputs["assumeRolePolicyDocument"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": [idp.outputs["arn"]]}
    assert statement["Condition"] == {
        "StringEquals": {
            "oidc:iss": idp.inputs["issuerUrl"],
            "oidc:aud": "sts.aliyuncs.com",
            "oidc:sub": "system:serviceaccount:workflows:railyard-release",
        }
    }


def test_the_release_role_names_its_resources(stack_plan):
    policies = {
        p.inputs["policyName"]: json.loads(p.inputs["policyDocument"])
        for p in stack_plan.of_type("alicloud:ram/policy:Policy")
    }
    (document,) = [d for n, d in policies.items() if n.endswith("-release-workflows")]
    resources = [r for s in document["Statement"] for r in s["Resource"]]
    assert "*" not in resources
    buckets = {b.outputs["bucket"] for b in stack_plan.of_type("alicloud:oss/bucket:Bucket")}
    oss = {r.split(":", 4)[4].split("/")[0] for r in resources if r.startswith("acs:oss:")}
    assert oss == buckets  # the PWA and APK buckets, nothing else
    domain = stack_plan.one("alicloud:cdn/domainNew:DomainNew").inputs["domainName"]
    (cdn,) = [s for s in document["Statement"] if s["Action"] == ["cdn:RefreshObjectCaches"]]
    assert cdn["Resource"] == [f"acs:cdn:*:*:domain/{domain}"]


def test_pods_get_the_role_and_a_projected_token_not_a_secret(stack_plan):
    (env,) = [
        c
        for c in stack_plan.of_type("kubernetes:core/v1:ConfigMap")
        if c.inputs["metadata"]["name"] == "railyard-release-env"
    ]
    assert env.inputs["data"]["ALIBABA_CLOUD_ROLE_ARN"] == release_role(stack_plan).outputs["arn"]
    assert (
        env.inputs["data"]["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"] == stack_plan.one(IDP).outputs["arn"]
    )
    (unified,) = [t for t in stack_plan.of_type(TEMPLATE) if t.name == "template-unified-release"]
    steps = {t["name"]: t for t in unified.inputs["spec"]["templates"]}
    for name in ALIBABA_STEPS:
        (volume,) = steps[name]["volumes"]
        (source,) = volume["projected"]["sources"]
        assert source["serviceAccountToken"]["audience"] == "sts.aliyuncs.com"
        container = steps[name]["container"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        token_file = {e["name"]: e.get("value") for e in container["env"]}
        assert token_file["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] == f"{mount['mountPath']}/token"
    assert "ALIBABA_CLOUD_ACCESS_KEY" not in json.dumps(unified.inputs)


def test_the_drift_check_reads_oss_with_the_same_projected_token(stack_plan):
    drift = k8s_named(stack_plan, "CronWorkflow", "drift-check")
    (main,) = drift.inputs["spec"]["workflowSpec"]["templates"]
    (volume,) = main["volumes"]
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "sts.aliyuncs.com"
    (mount,) = [m for m in main["container"]["volumeMounts"] if m["name"] == volume["name"]]
    env = {e["name"]: e.get("value") for e in main["container"]["env"]}
    assert env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] == f"{mount['mountPath']}/token"
    assert "ALIBABA_CLOUD_ACCESS_KEY" not in json.dumps(drift.inputs)


def test_fingerprints_are_pinned_when_configured():
    fingerprint = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67"
    plan = run_offline("dev", {"railyard:alibabaOidcFingerprints": [fingerprint]})
    assert plan.one(IDP).inputs["fingerprints"] == [fingerprint.replace(":", "").lower()]
    assert "fingerprints" not in plan_for("dev").one(IDP).inputs


def test_a_malformed_fingerprint_is_refused_naming_the_key():
    with pytest.raises(Exception, match=r"alibabaOidcFingerprints\[0\]: 'abc' is not a SHA-1"):
        run_offline("dev", {"railyard:alibabaOidcFingerprints": ["abc"]})
