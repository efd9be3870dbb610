"""EKS, Argo Workflows and the release templates as the real program registers them."""

from __future__ import annotations

import json
import re

import pytest
from hera.workflows import models as m

from offline.argo_objects import argo_objects
from offline.mocks import OFFLINE_DIGEST
from offline.runner import run_offline
from tests.harness import plan_for, role_policy_attachments, string_leaves

CLUSTER = "eks:index:Cluster"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"
CRD_FILE = "kubernetes:yaml/v2:ConfigFile"
RELEASE = "kubernetes:helm.sh/v3:Release"
PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")


def templates(plan) -> dict[str, dict]:
    return {
        r.inputs["metadata"]["name"]: {
            "apiVersion": r.inputs["apiVersion"],
            "kind": r.inputs["kind"],
            "metadata": r.inputs["metadata"],
            "spec": r.inputs["spec"],
        }
        for r in plan.of_type(TEMPLATE)
    }


def test_prod_api_endpoint_is_private_and_dev_public_only_to_its_cidrs():
    prod = plan_for("prod").one(CLUSTER).inputs
    assert prod["endpointPrivateAccess"] is True
    assert prod["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in prod
    dev = plan_for("dev").one(CLUSTER).inputs
    assert dev["endpointPublicAccess"] is True
    assert dev["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_prod_refuses_a_public_endpoint():
    with pytest.raises(
        Exception, match="eksPublicAccessCidrs: prod's API endpoint must be private"
    ):
        run_offline("prod", {"railyard:eksPublicAccessCidrs": ["0.0.0.0/0"]})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cluster_has_oidc_api_auth_kms_secrets_and_logs(stack):
    plan = plan_for(stack)
    cluster = plan.one(CLUSTER)
    inputs = cluster.inputs
    assert inputs["createOidcProvider"] is True
    assert inputs["authenticationMode"] == "API"
    assert inputs["skipDefaultNodeGroup"] is True
    assert set(inputs["enabledClusterLogTypes"]) >= {"api", "audit", "authenticator"}
    key = plan.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.urn in cluster.property_dependencies["encryptionConfigKeyArn"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_system_pool_is_a_fixed_node_group_requiring_imdsv2(stack):
    plan = plan_for(stack)
    (group,) = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    assert group.name.endswith("-system") and group.inputs["capacityType"] == "ON_DEMAND"
    assert "taints" not in group.inputs
    for template in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_argo_chart_pins_every_image_by_digest_executor_included(stack):
    release = plan_for(stack).one(RELEASE, under="railyard:eks:ArgoWorkflows")
    values = release.inputs["values"]
    assert values["crds"] == {"install": False}
    for part in ("controller", "server", "executor"):
        assert PINNED.search(values[part]["image"]["tag"]), part
    assert values["executor"]["image"]["repository"] == "argoproj/argoexec"
    # never `server` (the server's own account for every user); prod adds single sign-on
    assert values["server"]["authModes"] == (["sso", "client"] if stack == "prod" else ["client"])
    assert values["useStaticCredentials"] is False
    # removed from the chart in 0.26.0: a key the chart ignores is a setting that does nothing
    assert "useDefaultArtifactRepo" not in values


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_crds_come_before_the_chart_and_every_template(stack):
    plan = plan_for(stack)
    crds = {r.urn for r in plan.of_type(CRD_FILE)}
    assert len(crds) == 8
    assert all(
        "/v4.0.8/manifests/base/crds/full/" in r.inputs["file"] for r in plan.of_type(CRD_FILE)
    )
    assert crds <= set(plan.one(RELEASE, under="railyard:eks:ArgoWorkflows").dependencies)
    registered = plan.of_type(TEMPLATE)
    assert len(registered) == 7
    for template in registered:
        assert crds <= set(template.dependencies), template.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_registered_templates_are_strict_and_use_the_pushed_steps_image(stack):
    plan = plan_for(stack)
    steps_repo = plan.outputs["ecrRepositoryUrls"]["railyard/steps"]
    for name, doc in templates(plan).items():
        again = m.WorkflowTemplate.model_validate(doc)
        assert again.model_dump(by_alias=True, exclude_none=True, mode="json") == doc, name
        images = [v for p, v in string_leaves(doc["spec"]) if p.endswith(".image")]
        assert images, name
        for image in images:
            assert PINNED.search(image), (name, image)
            assert image == f"{steps_repo}@{OFFLINE_DIGEST}" or image.startswith(
                "registry.k8s.io/kubectl:"
            ), (name, image)


def test_manual_approval_only_in_prod():
    def suspends(stack):
        return {
            name
            for name, doc in templates(plan_for(stack)).items()
            if any("suspend" in t for t in doc["spec"]["templates"])
        }

    assert suspends("prod") == {"unified-release", "release-train"}
    assert suspends("dev") == set()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_workflow_role_trusts_exactly_the_release_service_account(stack):
    plan = plan_for(stack)
    (role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.name.endswith("-workflows")]
    statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert len(statement) == 1
    assert statement[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statement[0]["Condition"]["StringEquals"]
    issuer = plan.one(CLUSTER)  # the mock's issuer is derived from the cluster
    sub = [v for k, v in conditions.items() if k.endswith(":sub")]
    assert sub == ["system:serviceaccount:workflows:railyard-release"]
    assert [v for k, v in conditions.items() if k.endswith(":aud")] == ["sts.amazonaws.com"]
    assert issuer.urn in role.dependencies or role.property_dependencies["assumeRolePolicy"]
    account = plan.one(
        "kubernetes:core/v1:ServiceAccount", under="railyard:release:ReleasePipeline"
    )
    assert account.inputs["metadata"]["name"] == "railyard-release"
    assert "eks.amazonaws.com/role-arn" in account.inputs["metadata"]["annotations"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_artifact_bucket_is_private_and_only_the_workflow_role_reaches_it(stack):
    plan = plan_for(stack)
    (bucket,) = plan.of_type("aws:s3/bucket:Bucket", under="railyard:eks:ArgoWorkflows")
    blocks = [
        b
        for b in plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if b.inputs["bucket"] == bucket.id
    ]
    assert blocks and all(blocks[0].inputs[k] for k in ("blockPublicAcls", "restrictPublicBuckets"))
    assert (
        plan.one(RELEASE, under="railyard:eks:ArgoWorkflows").inputs["values"][
            "artifactRepository"
        ]["s3"]["bucket"]
        == bucket.id
    )
    (policy,) = plan.of_type(
        "aws:iam/rolePolicy:RolePolicy", under="railyard:release:ReleasePipeline"
    )
    resources = [
        r for s in json.loads(policy.inputs["policy"])["Statement"] for r in _list(s["Resource"])
    ]
    assert f"arn:aws:s3:::{bucket.id}/*" in resources


def _list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tokens_and_keys_reach_the_cluster_as_secrets(stack):
    plan = plan_for(stack)
    secrets = {s.inputs["metadata"]["name"]: s for s in plan.of_type("kubernetes:core/v1:Secret")}
    assert secrets["railyard-agent-token"].is_secret("stringData.token")
    assert "railyard-github-token" not in secrets  # githubToken unset in the stack files
    # no Alibaba key anywhere: release pods federate (test_keyless.py)
    assert not any("ALIBABA_CLOUD_ACCESS_KEY" in json.dumps(s.inputs) for s in secrets.values())


def test_a_github_token_becomes_a_secret_only_when_set_as_one():
    plan = run_offline("dev", {"railyard:githubToken": {"secure": "v1:ciphertext"}})
    (github,) = [
        s
        for s in plan.of_type("kubernetes:core/v1:Secret")
        if s.inputs["metadata"]["name"] == "railyard-github-token"
    ]
    assert github.is_secret("stringData.token")
    with pytest.raises(Exception, match="githubToken: is stored in plaintext"):
        run_offline("dev", {"railyard:githubToken": "ghp_offline"})


def test_an_image_by_tag_is_refused_naming_the_key():
    with pytest.raises(
        Exception, match=re.escape("argoExecutorImage: 'quay.io/argoproj/argoexec:v4.0.8' is not")
    ):
        run_offline("dev", {"railyard:argoExecutorImage": "quay.io/argoproj/argoexec:v4.0.8"})


def test_the_events_queue_is_fifo_with_a_dead_letter_queue():
    plan = plan_for("dev")
    queues = {q.inputs["name"]: q.inputs for q in plan.of_type("aws:sqs/queue:Queue")}
    main = queues["railyard-dev-kanban-events.fifo"]
    assert main["fifoQueue"] is True
    assert main["contentBasedDeduplication"] is False
    assert main["sqsManagedSseEnabled"] is True
    assert json.loads(main["redrivePolicy"])["maxReceiveCount"] == 10
    assert "railyard-dev-kanban-events-dlq.fifo" in queues
    env = plan.one("kubernetes:core/v1:ConfigMap", under="railyard:release:ReleasePipeline")
    assert env.inputs["data"]["RAILYARD_EVENTS_QUEUE_URL"].endswith(
        "/railyard-dev-kanban-events.fifo"
    )


def test_argo_objects_dump_holds_templates_and_the_child_workflows_they_create():
    objects = argo_objects(plan_for("prod"))
    kinds = [o["kind"] for o in objects]
    assert kinds.count("WorkflowTemplate") == 7
    assert kinds.count("Workflow") == 1  # the deployer's chunk Workflow
    assert kinds.count("WorkflowEventBinding") == 1  # no application repository in prod
    assert kinds.count("CronWorkflow") == 2  # delivery metrics, drift
    for o in objects:
        model = {
            "WorkflowTemplate": m.WorkflowTemplate,
            "CronWorkflow": m.CronWorkflow,
            "Workflow": m.Workflow,
            "WorkflowEventBinding": m.WorkflowEventBinding,
        }[o["kind"]]
        assert (
            model.model_validate(o).model_dump(by_alias=True, exclude_none=True, mode="json") == o
        )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_node_groups_wait_for_their_role_policies(stack):
    plan = plan_for(stack)
    attachments = role_policy_attachments(plan, f"railyard-{stack}-eks-nodes")
    assert set(attachments) == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
    }
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    assert groups
    for group in groups:
        assert set(attachments.values()) <= set(group.dependencies), group.name
