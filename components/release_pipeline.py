"""What the release workflows need on the cluster, and the WorkflowTemplates themselves.

- the workflow service account with an IRSA role (no static AWS keys), RBAC in the workflows
  namespace (argoexec's task results, child Workflows) and `edit` in the backend namespace;
- Alibaba access without a stored key: the cluster's OIDC issuer registered with RAM, and a RAM
  role that only the workflow service account's projected token can assume (limited to the PWA
  and APK buckets and refreshing the China CDN domain);
- a ConfigMap with the stack outputs the steps read, Secrets for the agent token and, when
  configured, the GitHub token of the static-analysis gate;
- the unified release and release-train WorkflowTemplates, and the CronWorkflows of the
  delivery metrics and the drift check, after the CRDs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import irsa
from components.owned_namespace import owned_namespace
from railyard import ram_policies
from railyard.iam_policies import put_metrics
from railyard.release_templates import common, render_all, render_schedules
from railyard_runtime.environment import FederationEnv, StepsEnv
from railyard_runtime.report import metrics


@dataclass
class ReleaseTargets:
    """Stack outputs of the delivery targets the steps act on."""

    pwa_bucket: pulumi.Input[str]
    cloudfront_id: pulumi.Input[str]
    cloudfront_url: pulumi.Input[str]
    oss_bucket: pulumi.Input[str]
    alibaba_cdn_url: pulumi.Input[str]
    alibaba_cdn_domain: str
    """The China CDN domain release pods may refresh; empty: none."""
    apk_bucket: pulumi.Input[str]
    ecr_registry_url: pulumi.Input[str]
    """<account>.dkr.ecr.<region>.amazonaws.com: the drift check compares image digests there."""
    agent_endpoint: pulumi.Input[str]
    agent_token: pulumi.Input[str]
    agent_networks: list[str]
    """CIDRs the build agents live in: the steps send the agent token to no other host."""
    artifact_bucket: pulumi.Input[str]
    ecr_registry_id: pulumi.Input[str]
    ecr_repositories: list[str]


@dataclass
class ReleasePipelineArgs:
    settings: common.ReleaseSettings
    """The templates' settings; their ``steps_image`` is replaced by ``steps_image`` below."""
    steps_image: pulumi.Input[str]
    targets: ReleaseTargets
    aws_region: str
    alibaba_region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    workflows_namespace: pulumi.Input[str]
    crds: list[pulumi.Resource]
    events_queue_url: pulumi.Input[str]
    events_queue_arn: pulumi.Input[str]
    """The Kanban feed's queue: the workflow pods may only send to it."""
    events_table_name: pulumi.Input[str]
    events_table_arn: pulumi.Input[str]
    """The bridge's events history: the reports read it (Query only)."""
    canary_name: pulumi.Input[str]
    canary_arn: pulumi.Input[str]
    """The PWA canary the post-deploy gate waits on (GetCanaryRuns only)."""
    github_token: pulumi.Input[str] | None
    alibaba_oidc_fingerprints: list[str]
    """SHA-1 fingerprints of the issuer's CA certificate for RAM; empty: none pinned."""


class ReleasePipeline(pulumi.ComponentResource):
    """The release templates and what their pods need; ``opts`` brings the AWS, Alibaba and
    Kubernetes providers."""

    role_arn: pulumi.Output[str]
    alibaba_role_arn: pulumi.Output[str]
    template_names: list[str]
    templates: list[pulumi.Resource]

    def __init__(
        self, name: str, args: ReleasePipelineArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:release:ReleasePipeline", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        role = self._irsa_role(name, args)
        account = k8s.core.v1.ServiceAccount(
            "railyard-release",
            metadata={
                "name": s.service_account,
                "namespace": args.workflows_namespace,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
            opts=child,
        )
        self._rbac(args, account)
        alibaba_role, alibaba_idp = self._alibaba_role(name, args)
        self._env(args, alibaba_role, alibaba_idp)
        self._secrets(args)
        after = [*args.crds, account]
        installed = self._install(args, render_all, "WorkflowTemplate", "template", after)
        self.template_names, self.templates = list(installed), list(installed.values())
        # the schedules run the templates' steps image and may be read beside them
        self._install(args, render_schedules, "CronWorkflow", "cron", [*after, *self.templates])
        self.role_arn = role.arn
        self.alibaba_role_arn = alibaba_role
        self.register_outputs({"roleArn": role.arn, "alibabaRoleArn": alibaba_role})

    def _install(
        self,
        args: ReleasePipelineArgs,
        render: Callable[[common.ReleaseSettings], list[dict]],
        kind: str,
        prefix: str,
        after: list[pulumi.Resource],
    ) -> dict[str, pulumi.Resource]:
        """Argo objects of one kind by name, rendered once the steps image's digest is known
        (an output of the image build)."""
        s = args.settings
        names = [d["metadata"]["name"] for d in render(s)]
        bodies = pulumi.Output.from_input(args.steps_image).apply(
            lambda ref: render(dataclasses.replace(s, steps_image=ref))
        )
        return {
            object_name: k8s.apiextensions.CustomResource(
                f"{prefix}-{object_name}",
                api_version="argoproj.io/v1alpha1",
                kind=kind,
                metadata=bodies.apply(lambda b, i=i: b[i]["metadata"]),
                spec=bodies.apply(lambda b, i=i: b[i]["spec"]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
            for i, object_name in enumerate(names)
        }

    def _irsa_role(self, name, args: ReleasePipelineArgs) -> aws.iam.Role:
        """The workflow service account's AWS role (IRSA) and what release steps may do on AWS."""
        child = pulumi.ResourceOptions(parent=self)
        s, t = args.settings, args.targets
        trust = irsa.trust_policy(
            args.oidc_provider_arn, args.oidc_issuer, s.namespace, s.service_account
        )
        role = aws.iam.Role(f"{name}-workflows", assume_role_policy=trust, opts=child)
        policy = pulumi.Output.all(
            t.artifact_bucket,
            t.pwa_bucket,
            t.ecr_registry_id,
            args.events_queue_arn,
            args.events_table_arn,
            args.canary_arn,
        ).apply(lambda v: _workflow_policy(args.aws_region, *v, t.ecr_repositories))
        aws.iam.RolePolicy(f"{name}-workflows", role=role.id, policy=policy, opts=child)
        return role

    def _rbac(self, args: ReleasePipelineArgs, account) -> None:
        """What argoexec and the deployer may do in the workflows and backend namespaces."""
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        subject = [
            {
                "kind": "ServiceAccount",
                "name": s.service_account,
                "namespace": args.workflows_namespace,
            }
        ]
        role = k8s.rbac.v1.Role(
            "railyard-release",
            metadata={"name": "railyard-release", "namespace": args.workflows_namespace},
            rules=[
                # argoexec reports each pod's outputs as a WorkflowTaskResult
                {
                    "apiGroups": ["argoproj.io"],
                    "resources": ["workflowtaskresults"],
                    "verbs": ["create", "patch"],
                },
                # the deployer creates and follows one child Workflow per chunk
                {
                    "apiGroups": ["argoproj.io"],
                    "resources": ["workflows"],
                    "verbs": ["create", "get", "list", "watch", "patch"],
                },
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            "railyard-release",
            metadata={"name": "railyard-release", "namespace": args.workflows_namespace},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": role.metadata.name,
            },
            subjects=subject,
            opts=child,
        )
        # the backend's own workloads must comply too; its overlay brings the NetworkPolicies
        # that admit its traffic (docs/kubernetes.md)
        backend = owned_namespace("backend", s.backend_namespace, child)
        # the backend lane applies the overlay: namespace-scoped `edit`, nothing cluster-wide
        k8s.rbac.v1.RoleBinding(
            "railyard-release-backend",
            metadata={"name": "railyard-release", "namespace": backend.metadata.name},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            subjects=subject,
            opts=child,
        )

    def _env(self, args: ReleasePipelineArgs, alibaba_role, alibaba_idp) -> None:
        """The ConfigMap of stack outputs the steps read."""
        child = pulumi.ResourceOptions(parent=self)
        t = args.targets
        k8s.core.v1.ConfigMap(
            "release-env",
            metadata={"name": common.ENV_CONFIG_MAP, "namespace": args.workflows_namespace},
            data={
                "AWS_REGION": args.aws_region,
                StepsEnv.ALIBABA_REGION: args.alibaba_region,
                StepsEnv.PWA_S3_BUCKET: t.pwa_bucket,
                StepsEnv.PWA_CLOUDFRONT_ID: t.cloudfront_id,
                StepsEnv.PWA_CLOUDFRONT_URL: t.cloudfront_url,
                StepsEnv.PWA_OSS_BUCKET: t.oss_bucket,
                StepsEnv.PWA_ALIBABA_CDN_URL: t.alibaba_cdn_url,
                StepsEnv.AGENT_URL: pulumi.Output.concat("http://", t.agent_endpoint),
                StepsEnv.AGENT_NETWORK: ",".join(t.agent_networks),
                StepsEnv.EVENTS_QUEUE_URL: args.events_queue_url,
                StepsEnv.EVENTS_TABLE: args.events_table_name,
                StepsEnv.PWA_CANARY: args.canary_name,
                # what the drift check compares with the last release
                StepsEnv.APK_BUCKET: t.apk_bucket,
                StepsEnv.ECR_REGISTRY: t.ecr_registry_url,
                StepsEnv.SCAN_IMAGES: ",".join(args.settings.scan_images),
                StepsEnv.BACKEND_NAMESPACE: args.settings.backend_namespace,
                StepsEnv.BACKEND_WORKLOAD: args.settings.backend_workload,
                # OIDC federation; the templates mount the token these go with
                FederationEnv.ROLE_ARN: alibaba_role,
                FederationEnv.OIDC_PROVIDER_ARN: alibaba_idp,
            },
            opts=child,
        )

    def _secrets(self, args: ReleasePipelineArgs) -> None:
        """The agent token and, when configured, the static-analysis gate's GitHub token."""
        child = pulumi.ResourceOptions(parent=self)
        ns = args.workflows_namespace
        k8s.core.v1.Secret(
            "agent-token",
            metadata={"name": common.AGENT_TOKEN_SECRET, "namespace": ns},
            string_data={"token": pulumi.Output.secret(args.targets.agent_token)},
            opts=child,
        )
        if args.github_token is not None:
            k8s.core.v1.Secret(
                "github-token",
                metadata={"name": common.GITHUB_TOKEN_SECRET, "namespace": ns},
                string_data={"token": pulumi.Output.secret(args.github_token)},
                opts=child,
            )

    def _alibaba_role(self, name, args: ReleasePipelineArgs):
        """The cluster's issuer as a RAM identity provider, and the role its token assumes."""
        child = pulumi.ResourceOptions(parent=self)
        s, t = args.settings, args.targets
        issuer_url = pulumi.Output.concat("https://", args.oidc_issuer)
        idp = alicloud.ims.OidcProvider(
            f"{name}-eks",
            oidc_provider_name=f"{name}-eks",
            issuer_url=issuer_url,
            client_ids=[ram_policies.STS_AUDIENCE],
            # RAM takes the hex digits alone (openssl prints them colon-separated)
            fingerprints=[f.replace(":", "").lower() for f in args.alibaba_oidc_fingerprints]
            or None,
            description="railyard: service-account tokens of the EKS cluster",
            opts=child,
        )
        subject = ram_policies.service_account_subject(s.namespace, s.service_account)
        role = alicloud.ram.Role(
            f"{name}-workflows",
            role_name=f"{name}-workflows",
            assume_role_policy_document=pulumi.Output.all(idp.arn, issuer_url).apply(
                lambda v: ram_policies.oidc_trust(v[0], v[1], subject)
            ),
            max_session_duration=3600,
            description=f"railyard release workflows ({subject})",
            opts=child,
        )
        policy = alicloud.ram.Policy(
            f"{name}-workflows",
            policy_name=f"{name}-workflows",
            policy_document=pulumi.Output.all(t.oss_bucket, t.apk_bucket).apply(
                lambda b: ram_policies.release_policy(b, t.alibaba_cdn_domain)
            ),
            description="OSS objects of the PWA and APK buckets; refresh the China CDN domain",
            opts=child,
        )
        alicloud.ram.RolePolicyAttachment(
            f"{name}-workflows",
            role_name=role.role_name,
            policy_name=policy.policy_name,
            policy_type="Custom",
            opts=child,
        )
        return role.arn, idp.arn


def _workflow_policy(
    region, artifacts, pwa, registry, queue_arn, events_table_arn, canary_arn, repositories
) -> str:
    ecr = [f"arn:aws:ecr:{region}:{registry}:repository/{r}" for r in repositories]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"],
                    "Resource": [
                        f"arn:aws:s3:::{b}{p}" for b in (artifacts, pwa) for p in ("", "/*")
                    ],
                },
                {
                    "Effect": "Allow",
                    "Action": ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "ecr:BatchGetImage",
                        "ecr:PutImage",
                        "ecr:DescribeImages",
                        "ecr:DescribeImageScanFindings",
                    ],
                    "Resource": ecr,
                },
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
                # the delivery reports: read the bridge's history, put the figures
                {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": events_table_arn},
                put_metrics(metrics.NAMESPACE),
                # the post-deploy gate waits on the PWA canary's runs
                {"Effect": "Allow", "Action": "synthetics:GetCanaryRuns", "Resource": canary_arn},
                # release-train jobs: code of existing functions and APIs, nothing else
                {
                    "Effect": "Allow",
                    "Action": [
                        "lambda:UpdateFunctionCode",
                        "lambda:GetFunctionConfiguration",
                        "lambda:GetFunction",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["apigateway:PUT", "apigateway:POST", "apigateway:GET"],
                    "Resource": f"arn:aws:apigateway:{region}::/restapis/*",
                },
            ],
        }
    )
