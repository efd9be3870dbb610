"""A deploy path to a private cluster: the in-VPC runner, who reaches the API, the bootstrap."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from components.deploy_runner import runs_on_label
from offline import plan as plan_cli
from offline.mocks import FAKE_ACCOUNT
from offline.runner import run_offline
from tests.harness import plan_for

CLUSTER = "eks:index:Cluster"
PROJECT = "aws:codebuild/project:Project"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_jobs_run_on_codebuild_inside_the_private_subnets(stack_plan):
    project = stack_plan.one(PROJECT).inputs
    assert project["name"] == f"railyard-{stack_plan.stack}-deploy"
    assert project["source"]["type"] == "GITHUB"
    assert project["source"]["location"] == "https://github.com/acme/railyard.git"
    assert project["source"]["auth"]["type"] == "CODECONNECTIONS"
    private = {s.id for s in stack_plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert set(project["vpcConfig"]["subnets"]) == private
    (group,) = stack_plan.of_type(
        "aws:ec2/securityGroup:SecurityGroup", under="railyard:cicd:DeployRunner"
    )
    assert project["vpcConfig"]["securityGroupIds"] == [group.id]
    assert "ingress" not in group.inputs  # nothing reaches the runner
    webhook = stack_plan.one("aws:codebuild/webhook:Webhook").inputs
    assert webhook["buildType"] == "BUILD"
    assert webhook["filterGroups"] == [
        {"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}
    ]


def test_the_cluster_security_group_admits_the_runner_on_443(stack_plan):
    cluster = stack_plan.one(CLUSTER)
    (group,) = stack_plan.of_type(
        "aws:ec2/securityGroup:SecurityGroup", under="railyard:cicd:DeployRunner"
    )
    (rule,) = [
        r
        for r in stack_plan.of_type(INGRESS)
        if "referencedSecurityGroupId" in r.inputs
        and r.inputs["securityGroupId"] == cluster.outputs["clusterSecurityGroupId"]
    ]
    assert rule.inputs["referencedSecurityGroupId"] == group.id
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == (
        "tcp",
        443,
        443,
    )


def test_operator_networks_over_the_vpn_reach_the_api_on_443():
    plan = run_offline("prod", {"railyard:eksApiClientCidrs": ["10.70.0.0/20"]})
    cluster = plan.one(CLUSTER)
    (rule,) = [r for r in plan.of_type(INGRESS) if "cidrIpv4" in r.inputs and api_port(r)]
    assert rule.inputs["cidrIpv4"] == "10.70.0.0/20"
    assert rule.inputs["securityGroupId"] == cluster.outputs["clusterSecurityGroupId"]
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
    default = plan_for("prod").of_type(INGRESS)
    assert not [r for r in default if "cidrIpv4" in r.inputs and api_port(r)]


def api_port(rule) -> bool:
    """A rule that opens the Kubernetes API's port (443) or a range holding it."""
    return rule.inputs["fromPort"] <= 443 <= rule.inputs["toPort"]


def test_only_codebuild_acting_for_this_project_assumes_the_runner_role(stack_plan):
    (role,) = stack_plan.of_type("aws:iam/role:Role", under="railyard:cicd:DeployRunner")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "codebuild.amazonaws.com"}
    project = stack_plan.one(PROJECT).inputs["name"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": FAKE_ACCOUNT},
        "ArnLike": {
            "aws:SourceArn": f"arn:aws:codebuild:us-east-1:{FAKE_ACCOUNT}:project/{project}"
        },
    }


def test_fork_pull_requests_wait_for_a_maintainers_approval(stack_plan):
    policy = stack_plan.one("aws:codebuild/webhook:Webhook").inputs["pullRequestBuildPolicy"]
    assert policy["requiresCommentApproval"] == "FORK_PULL_REQUESTS"
    assert "GITHUB_READ" not in policy["approverRoles"]


def test_the_runner_role_only_logs_attaches_to_the_vpc_and_uses_the_connection(stack_plan):
    (policy,) = stack_plan.of_type(
        "aws:iam/rolePolicy:RolePolicy", under="railyard:cicd:DeployRunner"
    )
    document = json.loads(policy.inputs["policy"])
    actions = {
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(a.startswith(("eks:", "iam:", "sts:", "s3:")) for a in actions)
    (connection,) = [
        s for s in document["Statement"] if "codeconnections:UseConnection" in s["Action"]
    ]
    assert connection["Resource"] == [stack_plan.one(PROJECT).inputs["source"]["auth"]["resource"]]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"railyard:deployRunnerRepository": ""},
            "deployRunnerRepository: prod's API endpoint is private",
        ),
        (
            {"railyard:deployRunnerConnectionArn": ""},
            "deployRunnerConnectionArn: prod's API endpoint is private",
        ),
        (
            {"railyard:eksApiClientCidrs": ["203.0.113.0/24"]},
            r"eksApiClientCidrs\[0\]: 203.0.113.0/24 is not inside alibabaVpcCidr 10.70.0.0/16",
        ),
        (
            {"railyard:eksApiClientCidrs": ["192.168.1.0/24"]},
            r"eksApiClientCidrs\[0\]: 192.168.1.0/24 is not inside alibabaVpcCidr",
        ),
    ],
)
def test_prod_refuses_a_deploy_path_that_cannot_reach_it(overrides, message):
    with pytest.raises(Exception, match=message):
        run_offline("prod", overrides)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "0.0.0.0/1", "10.0.0.0/7"])
def test_dev_never_opens_its_endpoint_to_the_internet(cidr):
    with pytest.raises(Exception, match=r"eksPublicAccessCidrs\[0\]: .* opens the API endpoint"):
        run_offline("dev", {"railyard:eksPublicAccessCidrs": [cidr]})


def test_dev_may_go_without_a_runner():
    plan = run_offline(
        "dev", {"railyard:deployRunnerRepository": "", "railyard:deployRunnerConnectionArn": ""}
    )
    assert not plan.of_type(PROJECT) and "deployRunner" not in plan.outputs


def test_the_runner_label_is_exported_for_the_workflows(stack_plan):
    runner = stack_plan.outputs["deployRunner"]
    assert runner["runsOn"] == runs_on_label(f"railyard-{stack_plan.stack}-deploy")
    run = "${{ github.run_id }}-${{ github.run_attempt }}"
    assert runner["runsOn"] == f"codebuild-railyard-{stack_plan.stack}-deploy-{run}"


def test_bootstrap_creates_everything_but_what_needs_the_api(stack_plan):
    """`--exclude <k8s provider> --exclude-dependents` leaves out exactly the Kubernetes objects."""
    command = plan_cli.bootstrap_command(stack_plan)
    (provider,) = [r for r in stack_plan.resources if r.type == "pulumi:providers:kubernetes"]
    assert f"--exclude '{provider.urn}' --exclude-dependents" in command
    # the engine's dependents: through inputs, depends_on or the provider reference
    excluded, grew = {provider.urn}, True
    while grew:
        grew = False
        for r in stack_plan.resources:
            provider_urn = r.provider.rsplit("::", 1)[0] if r.provider else ""
            if r.urn not in excluded and ({*r.dependencies, provider_urn} & excluded):
                excluded.add(r.urn)
                grew = True
    excluded_types = {r.type.split(":")[0] for r in stack_plan.resources if r.urn in excluded}
    assert excluded_types == {"kubernetes", "pulumi"}
    kubernetes = {r.urn for r in stack_plan.resources if r.type.startswith("kubernetes:")}
    assert kubernetes <= excluded
    # what the first deploy must create to let the runner in: the runner and its 443 rule
    for type_token in (PROJECT, INGRESS, CLUSTER, "aws:eks/nodeGroup:NodeGroup"):
        assert all(r.urn not in excluded for r in stack_plan.of_type(type_token)), type_token


def test_bootstrap_flag_prints_the_command_only():
    result = CliRunner().invoke(plan_cli.app, ["prod", "--bootstrap"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("pulumi up -s prod --exclude 'urn:pulumi:prod::railyard::")
    assert result.output.count("\n") == 1
