"""The in-VPC deploy runner: GitHub Actions jobs hosted by AWS CodeBuild in the private subnets.

A private EKS endpoint answers only inside the VPC, so the jobs that run ``pulumi preview`` and
``pulumi up`` for a stack run here: CodeBuild starts a runner for each queued job whose label
names this project (``codebuild-<project>-<run id>-<attempt>``), in the private subnets with a
security group the control plane admits on 443. The image is AWS's managed CodeBuild image
(nothing of ours to pin); the job gets its cloud credentials through OIDC like any other job,
so the project's own role can only write its logs, attach to the VPC and use the GitHub
connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from railyard.iam_policies import service_trust

# Ubuntu 22.04 with Docker: actions/setup-python's builds and docker-build need Ubuntu + a daemon
IMAGE = "aws/codebuild/standard:7.0"
COMPUTE_TYPE = "BUILD_GENERAL1_MEDIUM"  # 4 vCPU / 7 GiB: the program, plugins and one image build
BUILD_TIMEOUT_MINUTES = 180  # a first `pulumi up` (cluster, chart, image) takes about an hour
LOG_RETENTION_DAYS = 90


@dataclass
class DeployRunnerArgs:
    project_name: str
    """CodeBuild project name; jobs use `runs-on: codebuild-<project_name>-<run id>-<attempt>`."""
    repository: str
    """GitHub repository (owner/name) whose workflow jobs it runs."""
    connection_arn: str
    """An AVAILABLE CodeConnections connection to GitHub (created once per account)."""
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets (egress through NAT: GitHub, PyPI, the cloud APIs)."""
    region: str
    """AWS region of the project (its ARN in the role's trust)."""


class DeployRunner(pulumi.ComponentResource):
    security_group_id: pulumi.Output[str]
    project_name: str
    runs_on: str

    def __init__(
        self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:cicd:DeployRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-runner",
            vpc_id=args.vpc_id,
            description="railyard deploy runner: no inbound, outbound to GitHub and the APIs",
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"]
                )
            ],
            tags={"Name": f"{name}-runner"},
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-runner",
            name=f"/aws/codebuild/{args.project_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            opts=child,
        )
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        role = aws.iam.Role(
            f"{name}-runner",
            # only CodeBuild acting for this project of this account
            assume_role_policy=account.apply(
                lambda a: service_trust(
                    "codebuild.amazonaws.com",
                    source_account=a,
                    source_arn=f"arn:aws:codebuild:{args.region}:{a}:project/{args.project_name}",
                )
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-runner",
            role=role.id,
            policy=pulumi.Output.all(logs.arn, args.subnet_ids).apply(
                lambda v: runner_policy(v[0], args.connection_arn, v[1])
            ),
            opts=child,
        )
        project = aws.codebuild.Project(
            f"{name}-runner",
            name=args.project_name,
            description=f"GitHub Actions runner for {args.repository} inside the VPC",
            service_role=role.arn,
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{args.repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(
                    type="CODECONNECTIONS", resource=args.connection_arn
                ),
            ),
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="LINUX_CONTAINER",
                compute_type=COMPUTE_TYPE,
                image=IMAGE,
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=True,  # the stack builds the steps image with Docker
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id, subnets=args.subnet_ids, security_group_ids=[group.id]
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=logs.name
                )
            ),
            build_timeout=BUILD_TIMEOUT_MINUTES,
            queued_timeout=60,
            # the role must hold its VPC and log permissions before the first job starts
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.codebuild.Webhook(
            f"{name}-runner",
            project_name=project.name,
            build_type="BUILD",
            # jobs from forks wait for a maintainer's approval comment before they run here
            pull_request_build_policy=aws.codebuild.WebhookPullRequestBuildPolicyArgs(
                requires_comment_approval="FORK_PULL_REQUESTS",
                approver_roles=["GITHUB_WRITE", "GITHUB_MAINTAIN", "GITHUB_ADMIN"],
            ),
            filter_groups=[
                aws.codebuild.WebhookFilterGroupArgs(
                    filters=[
                        aws.codebuild.WebhookFilterGroupFilterArgs(
                            type="EVENT", pattern="WORKFLOW_JOB_QUEUED"
                        )
                    ]
                )
            ],
            opts=child,
        )
        self.security_group_id = group.id
        self.project_name = args.project_name
        self.runs_on = runs_on_label(args.project_name)
        self.register_outputs(
            {"securityGroupId": group.id, "projectName": project.name, "runsOn": self.runs_on}
        )


def runs_on_label(project_name: str) -> str:
    """What a workflow job's ``runs-on`` says to land on this runner."""
    return f"codebuild-{project_name}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"


def runner_policy(log_group_arn: str, connection_arn: str, subnet_ids: Sequence[str]) -> str:
    """Logs, the network interfaces CodeBuild needs in the VPC, and the GitHub connection."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": [f"{log_group_arn}:*"],
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                    ],
                    "Resource": "*",  # these EC2 actions take no resource-level permissions
                },
                {
                    "Effect": "Allow",
                    "Action": "ec2:CreateNetworkInterfacePermission",
                    "Resource": "arn:aws:ec2:*:*:network-interface/*",
                    "Condition": {
                        "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                        "ArnEquals": {
                            "ec2:Subnet": [
                                f"arn:aws:ec2:*:*:subnet/{subnet}" for subnet in subnet_ids
                            ]
                        },
                    },
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "codeconnections:GetConnectionToken",
                        "codeconnections:GetConnection",
                        "codeconnections:UseConnection",
                        "codestar-connections:GetConnectionToken",
                        "codestar-connections:GetConnection",
                        "codestar-connections:UseConnection",
                    ],
                    "Resource": [connection_arn],
                },
            ],
        },
        sort_keys=True,
    )
