"""The EKS control plane the release workflows run on, and the Kubernetes provider for it.

``pulumi_eks`` builds the cluster (API access entries, OIDC for IRSA, KMS-encrypted secrets,
control-plane logs). Node groups are plain ``aws.eks.NodeGroup`` with a launch template that
requires IMDSv2: a `system` pool and a tainted `workflows` pool that only workflow pods
tolerate. Every Kubernetes resource of the stack uses ``provider``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from railyard.release_templates.common import WORKFLOW_NODE_LABEL, WORKFLOW_TAINT_KEY

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@dataclass
class NodePool:
    name: str
    instance_types: list[str]
    min_size: int
    max_size: int
    desired_size: int
    spot: bool
    labels: dict[str, str] = field(default_factory=dict)
    taint_key: str | None = None


@dataclass
class EksClusterArgs:
    version: str
    """Kubernetes minor version, e.g. 1.33."""
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    public_subnet_ids: pulumi.Input[list[str]]
    service_cidr: str
    admin_role_arns: list[str]
    """IAM roles given cluster-admin through EKS access entries."""
    public_access_cidrs: list[str]
    """Empty: private endpoint only. Otherwise the public endpoint is limited to these."""
    pools: list[NodePool]
    deletion_protection: bool
    tags: dict[str, str]


class EksCluster(pulumi.ComponentResource):
    provider: k8s.Provider
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    """Issuer host and path without https:// (the IRSA trust condition key)."""
    name: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:eks:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"{name}: envelope encryption of Kubernetes secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        cluster = eks.Cluster(
            name,
            name=name,  # known now: node groups name it before the cluster exists
            version=args.version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            kubernetes_service_ip_address_range=args.service_cidr,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                f"admin-{i}": eks.AccessEntryArgs(
                    principal_arn=arn,
                    access_policies={
                        "admin": eks.AccessPolicyAssociationArgs(
                            policy_arn=CLUSTER_ADMIN_POLICY,
                            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                                type="cluster"
                            ),
                        )
                    },
                )
                for i, arn in enumerate(args.admin_role_arns)
            },
            create_oidc_provider=True,
            endpoint_private_access=True,
            endpoint_public_access=bool(args.public_access_cidrs),
            public_access_cidrs=args.public_access_cidrs or None,
            encryption_config_key_arn=key.arn,
            enabled_cluster_log_types=LOG_TYPES,
            skip_default_node_group=True,
            node_associate_public_ip_address=False,
            deletion_protection=args.deletion_protection,
            tags=args.tags,
            opts=child,
        )
        node_role, attachments = self._node_role(name, child)
        # Nodes join only with the worker, CNI and registry policies in place; a group created
        # before its role's attachments fails to join (and a destroy must not strip them first).
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster, *attachments])
        for pool in args.pools:
            self._node_group(name, node_role, pool, args.private_subnet_ids, after_cluster)
        self.name = pulumi.Output.from_input(name)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_issuer = cluster.oidc_issuer
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig_json,
            enable_server_side_apply=True,  # full Argo CRDs exceed client-side apply's annotation
            opts=child,
        )
        self.register_outputs({"name": self.name, "oidcProviderArn": self.oidc_provider_arn})

    def _node_role(
        self, name: str, child: pulumi.ResourceOptions
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        role = aws.iam.Role(
            f"{name}-nodes",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                        }
                    ],
                }
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{i}", role=role.name, policy_arn=arn, opts=child
            )
            for i, arn in enumerate(NODE_POLICIES)
        ]
        return role, attachments

    def _node_group(self, name, role, pool: NodePool, subnets, child) -> None:
        template = aws.ec2.LaunchTemplate(
            f"{name}-{pool.name}",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only
                http_put_response_hop_limit=1,  # pods cannot reach the node's role (IRSA instead)
            ),
            opts=child,
        )
        aws.eks.NodeGroup(
            f"{name}-{pool.name}",
            cluster_name=name,
            node_role_arn=role.arn,
            subnet_ids=subnets,
            instance_types=pool.instance_types,
            capacity_type="SPOT" if pool.spot else "ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_size, max_size=pool.max_size, desired_size=pool.desired_size
            ),
            labels=pool.labels,
            taints=[
                aws.eks.NodeGroupTaintArgs(key=pool.taint_key, value="true", effect="NO_SCHEDULE")
            ]
            if pool.taint_key
            else None,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            opts=child,
        )


def default_pools(workflow_types: list[str], workflow_max: int, spot: bool) -> list[NodePool]:
    """`system` (Argo, the bridge) and `workflows` (tainted: workflow pods only)."""
    return [
        NodePool(
            "system",
            ["m6i.large", "m5.large"],
            2,
            4,
            2,
            spot=False,
            labels={"railyard.io/pool": "system"},
        ),
        NodePool(
            "workflows",
            workflow_types,
            0,
            workflow_max,
            1,
            spot=spot,
            labels=WORKFLOW_NODE_LABEL,
            taint_key=WORKFLOW_TAINT_KEY,
        ),
    ]
