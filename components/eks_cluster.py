"""The EKS control plane the release workflows run on, and the Kubernetes provider for it.

``pulumi_eks`` builds the cluster (API access entries, OIDC for IRSA, KMS-encrypted secrets,
control-plane logs). Two kinds of capacity:

- `system` (Argo, CoreDNS, the bridge): a fixed on-demand ``aws.eks.NodeGroup`` with a launch
  template that requires IMDSv2;
- `workflows` (tainted: only workflow pods): EKS Auto Mode with no built-in pools and one
  NodePool of ours, so nodes follow pending workflow pods up and back down to none without
  an autoscaler image in the cluster (``railyard.node_pools``).

Who may reach the private API endpoint: the control plane's security group admits
``admit_api_client`` security groups (the deploy runner) and ``api_client_cidrs`` (operators
over the VPN) on 443. Every Kubernetes resource of the stack uses ``provider``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from railyard import node_pools
from railyard.iam_policies import service_trust

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
# Auto Mode nodes: their own role (a role has one access entry; the node group's is EC2_LINUX)
AUTO_NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
AUTO_NODE_ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"
EC2_TRUST = service_trust("ec2.amazonaws.com")
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@dataclass
class NodePool:
    """A fixed, on-demand managed node group."""

    name: str
    instance_types: list[str]
    min_size: int
    max_size: int
    desired_size: int
    labels: dict[str, str] = field(default_factory=dict)


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
    system_pool: NodePool
    workflow_pool: node_pools.WorkflowPool
    api_client_cidrs: list[str]
    """Networks (reached over the VPN) admitted to the private API endpoint on 443."""
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
        self._prefix = name
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"{name}: envelope encryption of Kubernetes secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        # named: the NodeClass refers to its role by name
        auto_role, auto_attachments = self._node_role(
            f"{name}-auto-nodes", AUTO_NODE_POLICIES, child, physical_name=f"{name}-auto-nodes"
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
                **{
                    f"admin-{i}": eks.AccessEntryArgs(
                        principal_arn=arn,
                        access_policies={"admin": _cluster_wide(CLUSTER_ADMIN_POLICY)},
                    )
                    for i, arn in enumerate(args.admin_role_arns)
                },
                # Auto Mode nodes join the cluster under this entry
                "auto-nodes": eks.AccessEntryArgs(
                    principal_arn=auto_role.arn,
                    type=eks.AccessEntryType.EC2,
                    access_policies={"auto-node": _cluster_wide(AUTO_NODE_ACCESS_POLICY)},
                ),
            },
            # Auto Mode for the workflows NodePool only: no built-in pools, so nothing but
            # our NodePool launches Auto Mode nodes (its NodeClass names their role).
            auto_mode=eks.AutoModeOptionsArgs(
                enabled=True,
                create_node_role=False,
                compute_config=eks.ClusterComputeConfigArgs(node_pools=[]),
            ),
            # Auto Mode nodes bring their own networking; the `system` node group needs the VPC
            # CNI and kube-proxy add-ons (pulumi-eks leaves both out under Auto Mode) ...
            use_default_vpc_cni=False,
            # NetworkPolicies are enforced: the add-on's `enableNetworkPolicy` starts the node
            # agent on the node group and writes the `amazon-vpc-cni` ConfigMap that also turns
            # on the policy controller Auto Mode nodes use (one owner for that ConfigMap)
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=True),
            # ... and CoreDNS only once that group has nodes (below), or its add-on waits for
            # pods that cannot schedule while the node group waits for the cluster
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            # keep the control plane's own security group: the API rules below open the
            # endpoint, not the nodes (which share the EKS-created cluster security group)
            skip_default_security_groups=False,
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
            # nodes join only with their role's policies in place (and a destroy keeps them
            # until the nodes are gone)
            opts=pulumi.ResourceOptions(parent=self, depends_on=auto_attachments),
        )
        node_role, attachments = self._node_role(f"{name}-nodes", NODE_POLICIES, child)
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster, *attachments])
        system = self._node_group(
            name, node_role, args.system_pool, args.private_subnet_ids, after_cluster
        )
        aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=name,
            addon_name="coredns",
            resolve_conflicts_on_create="OVERWRITE",  # adopts an existing self-managed CoreDNS
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[system]),
        )
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.system_autoscaling_group = system.resources.apply(
            lambda r: r[0].autoscaling_groups[0].name
        )
        self._api_clients(args.api_client_cidrs)
        self.name = pulumi.Output.from_input(name)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_issuer = cluster.oidc_issuer
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig_json,
            enable_server_side_apply=True,  # full Argo CRDs exceed client-side apply's annotation
            opts=child,
        )
        self._workflow_pool(name, args, auto_role, cluster)
        self.register_outputs(
            {
                "name": self.name,
                "oidcProviderArn": self.oidc_provider_arn,
                "clusterSecurityGroupId": self.cluster_security_group_id,
            }
        )

    def admit_api_client(self, name: str, security_group_id: pulumi.Input[str]) -> None:
        """Let a security group (e.g. the in-VPC deploy runner) reach the private API on 443."""
        self._admit(
            f"{self._prefix}-api-from-{name}",
            f"Kubernetes API from {name}",
            referenced_security_group_id=security_group_id,
        )

    def _api_clients(self, cidrs: list[str]) -> None:
        for i, cidr in enumerate(cidrs):
            self._admit(
                f"{self._prefix}-api-from-cidr-{i + 1}",
                "Kubernetes API from operators over the VPN",
                cidr_ipv4=cidr,
            )

    def _admit(self, rule_name: str, description: str, **source: pulumi.Input[str]) -> None:
        aws.vpc.SecurityGroupIngressRule(
            rule_name,
            security_group_id=self.cluster_security_group_id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
            **source,
        )

    def _workflow_pool(self, name: str, args: EksClusterArgs, role, cluster) -> None:
        on_k8s = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[cluster])
        pool = args.workflow_pool
        node_class = pulumi.Output.all(role.name, args.private_subnet_ids).apply(
            lambda v: node_pools.node_class(pool, v[0], v[1], name)
        )
        nodes = k8s.apiextensions.CustomResource(
            f"{name}-{pool.name}-nodeclass",
            api_version=node_pools.NODE_CLASS_API[0],
            kind=node_pools.NODE_CLASS_API[1],
            metadata=node_class.apply(lambda d: d["metadata"]),
            spec=node_class.apply(lambda d: d["spec"]),
            opts=on_k8s,
        )
        body = node_pools.node_pool(pool)
        k8s.apiextensions.CustomResource(
            f"{name}-{pool.name}-nodepool",
            api_version=body["apiVersion"],
            kind=body["kind"],
            metadata=body["metadata"],
            spec=body["spec"],
            opts=pulumi.ResourceOptions.merge(on_k8s, pulumi.ResourceOptions(depends_on=[nodes])),
        )

    @staticmethod
    def _node_role(
        name: str,
        policies: tuple[str, ...],
        child: pulumi.ResourceOptions,
        physical_name: str | None = None,
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        role = aws.iam.Role(name, name=physical_name, assume_role_policy=EC2_TRUST, opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-{i}", role=role.name, policy_arn=arn, opts=child)
            for i, arn in enumerate(policies)
        ]
        return role, attachments

    def _node_group(self, name, role, pool: NodePool, subnets, child) -> aws.eks.NodeGroup:
        template = aws.ec2.LaunchTemplate(
            f"{name}-{pool.name}",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only
                http_put_response_hop_limit=1,  # pods cannot reach the node's role (IRSA instead)
            ),
            opts=child,
        )
        return aws.eks.NodeGroup(
            f"{name}-{pool.name}",
            cluster_name=name,
            node_role_arn=role.arn,
            subnet_ids=subnets,
            instance_types=pool.instance_types,
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_size, max_size=pool.max_size, desired_size=pool.desired_size
            ),
            labels=pool.labels,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            opts=child,
        )


def _cluster_wide(policy_arn: str) -> eks.AccessPolicyAssociationArgs:
    return eks.AccessPolicyAssociationArgs(
        policy_arn=policy_arn,
        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
    )


def system_pool() -> NodePool:
    """Argo's controller and server, CoreDNS, the Kanban bridge: two on-demand nodes."""
    return NodePool(
        "system", ["m6i.large", "m5.large"], 2, 4, 2, labels=node_pools.SYSTEM_NODE_LABEL
    )


def workflow_pool(
    instance_types: list[str], max_cpu: int, max_memory_gib: int, spot: bool
) -> node_pools.WorkflowPool:
    """Workflow pods only (tainted), from no node up to the CPU and memory limits."""
    return node_pools.WorkflowPool(
        name="workflows",
        instance_types=instance_types,
        max_cpu=max_cpu,
        max_memory_gib=max_memory_gib,
        spot=spot,
        labels=node_pools.WORKFLOW_NODE_LABEL,
        taint_key=node_pools.WORKFLOW_TAINT_KEY,
    )
