"""Argo Workflows on the cluster: full CRDs, the argo-helm chart with digest-pinned images,
an S3 artifact repository, and where configured the workflow archive (``workflow_archive``)
and single sign-on (``argo_sso``). argo-server is a NodePort on the system nodes, two
replicas: the webhook load balancer's target (``webhook_gateway``).

CRDs: the chart (1.0.x) installs the *full* CRDs only through a Helm hook; we set
``crds.install: false`` and apply upstream's full CRDs of the pinned app version with
server-side apply instead (docs/design.md: full CRDs by server-side apply), and everything
Argo depends on them. The chart has no ``image.digest``, so each image is pinned as
``tag: v4.0.8@sha256:…`` — executor included, since every workflow pod runs argoexec.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.argo_sso import ArgoSso, ArgoSsoArgs
from components.argo_sso import server_values as sso_server_values
from components.owned_namespace import network_policy, owned_namespace
from components.storage import PrivateS3Bucket, PrivateS3BucketArgs
from components.workflow_archive import WorkflowArchive, WorkflowArchiveArgs
from railyard import node_pools, pod_security

ARGO_NAMESPACE = "argo"
SERVER_ACCOUNT = "argo-server"
"""argo-server's service account (chart value server.serviceAccount.name)."""
SERVER_PORT = 2746
SERVER_NODE_PORT = 32746
"""argo-server's NodePort on the system nodes: the webhook load balancer's target."""
SERVER_POD_LABELS = {"app.kubernetes.io/name": "argo-workflows-server"}
"""What the chart labels argo-server's pods with (release name argo-workflows)."""
CHART_REPO = "https://argoproj.github.io/argo-helm"
CRD_URL = (
    "https://raw.githubusercontent.com/argoproj/argo-workflows/{version}/manifests/base/crds/"
    "full/argoproj.io_{kind}.yaml"
)
CRD_KINDS = (
    "workflows",
    "workflowtemplates",
    "clusterworkflowtemplates",
    "cronworkflows",
    "workfloweventbindings",
    "workflowtaskresults",
    "workflowtasksets",
    "workflowartifactgctasks",
)


def image_values(ref: str) -> dict[str, str]:
    """``quay.io/argoproj/argoexec:v4.0.8@sha256:…`` as the chart's registry/repository/tag."""
    registry, _, rest = ref.partition("/")
    repository, _, tag = rest.partition(":")
    return {"registry": registry, "repository": repository, "tag": tag}


@dataclass
class ArgoWorkflowsArgs:
    chart_version: str
    app_version: str
    """Argo Workflows version of the CRDs (the images' tag), e.g. v4.0.8."""
    controller_image: str
    server_image: str
    executor_image: str
    workflows_namespace: str
    default_service_account: str
    region: str
    parallelism: int
    events_cidrs: list[str]
    """Where webhook traffic reaches argo-server from: the subnets of the load balancer and
    the system nodes (NodePort hops between nodes)."""
    archive: WorkflowArchiveArgs | None = None
    """The workflow archive's database; None: Workflows are gone after their TTL."""
    sso: ArgoSsoArgs | None = None
    """Single sign-on to the UI (its namespaces are filled in here); None: tokens only."""


class ArgoWorkflows(pulumi.ComponentResource):
    """Argo Workflows and its artifact bucket; ``opts`` brings the AWS and Kubernetes providers."""

    crds: list[pulumi.Resource]
    artifact_bucket: PrivateS3Bucket
    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: ArgoWorkflowsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:eks:ArgoWorkflows", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.artifact_bucket = PrivateS3Bucket(
            f"{name}-artifacts",
            PrivateS3BucketArgs(
                keep_noncurrent_versions=1, noncurrent_days=1, expire_after_days=30
            ),
            opts=child,
        )
        argo_ns = owned_namespace("argo", ARGO_NAMESPACE, child)
        workflows_ns = owned_namespace("workflows", args.workflows_namespace, child)
        events = pod_security.allow_ingress(
            "argo-server-events", ARGO_NAMESPACE, SERVER_POD_LABELS, SERVER_PORT, args.events_cidrs
        )
        network_policy(
            "argo-server-events", events, pulumi.ResourceOptions(parent=self, depends_on=[argo_ns])
        )
        self.crds = [
            k8s.yaml.v2.ConfigFile(
                f"argo-crd-{kind}",
                file=CRD_URL.format(version=args.app_version, kind=kind),
                opts=child,
            )
            for kind in CRD_KINDS
        ]
        archive = (
            WorkflowArchive(
                f"{name}-archive",
                # through its name, the credentials Secret alone waits for the namespace
                dataclasses.replace(args.archive, namespace=argo_ns.metadata.name),
                opts=child,
            )
            if args.archive
            else None
        )
        sso = (
            ArgoSso(
                f"{name}-sso",
                dataclasses.replace(
                    args.sso,
                    server_namespace=argo_ns.metadata.name,
                    workflows_namespace=workflows_ns.metadata.name,
                ),
                opts=child,
            )
            if args.sso
            else None
        )
        values = chart_values(
            args, self.artifact_bucket.name, archive.persistence if archive else None
        )
        k8s.helm.v3.Release(
            "argo-workflows",
            chart="argo-workflows",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=argo_ns.metadata.name,
            values=values,
            atomic=True,
            timeout=600,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *self.crds,
                    workflows_ns,
                    *([archive.credentials, archive.database] if archive else []),
                    *([sso.client_secret] if sso else []),
                ],
            ),
        )
        self.namespace = workflows_ns.metadata.name
        self.register_outputs(
            {"namespace": self.namespace, "artifactBucket": self.artifact_bucket.name}
        )


def chart_values(
    args: ArgoWorkflowsArgs, artifact_bucket: pulumi.Input[str], persistence: dict | None = None
) -> dict:
    """The argo-helm values: pinned images, restricted pods, IRSA, the S3 artifact repository.

    Argo's pods comply with Pod Security `restricted`: the controller and server through their
    pod and container security contexts, every workflow pod through the workflow defaults (pod
    level) and the executor's and main containers' defaults (container level). The executor's
    init and wait containers keep a writable root: upstream sets a read-only one on them only
    for resource templates, pending argo-workflows#10787.
    """
    restricted_pod = pod_security.pod_security_context()
    values = {
        "crds": {"install": False},
        "singleNamespace": False,
        "controller": {
            "image": image_values(args.controller_image),
            "workflowNamespaces": [args.workflows_namespace],
            "parallelism": args.parallelism,
            "workflowDefaults": {
                "spec": {
                    "serviceAccountName": args.default_service_account,
                    "securityContext": restricted_pod,
                    "ttlStrategy": {"secondsAfterCompletion": 7 * 24 * 3600},
                    "podGC": {"strategy": "OnPodSuccess"},
                }
            },
            "podSecurityContext": restricted_pod,
            "securityContext": pod_security.container_security_context(),
            "resources": _resources("100m", "256Mi", cpu_limit="1", memory_limit="1Gi"),
            "nodeSelector": node_pools.SYSTEM_NODE_LABEL,
            **({"persistence": persistence} if persistence else {}),
        },
        "server": {
            "image": image_values(args.server_image),
            "authModes": ["client"],  # a user's own Kubernetes token; never `server`
            "serviceAccount": {"name": SERVER_ACCOUNT},
            # webhooks arrive through an internal NLB on the system nodes' NodePort; upstream
            # asks for two replicas or more when the events API is used
            "serviceType": "NodePort",
            "serviceNodePort": SERVER_NODE_PORT,
            "replicas": 2,
            # the chart mounts an emptyDir at /tmp, where the server writes
            "podSecurityContext": restricted_pod,
            "securityContext": pod_security.container_security_context(),
            "resources": _resources("50m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
            "nodeSelector": node_pools.SYSTEM_NODE_LABEL,
        },
        "executor": {
            "image": image_values(args.executor_image),
            "securityContext": pod_security.container_security_context(read_only_root=False),
        },
        "mainContainer": {
            "securityContext": pod_security.container_security_context(read_only_root=False)
        },
        "useStaticCredentials": False,  # IRSA of the workflow service account
        "artifactRepository": {
            "s3": {
                "bucket": artifact_bucket,
                "endpoint": f"s3.{args.region}.amazonaws.com",
                "region": args.region,
                "useSDKCreds": True,
                "keyFormat": "{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}",
            }
        },
        "workflow": {"serviceAccount": {"create": False}, "rbac": {"create": False}},
    }
    if args.sso:
        values["server"] |= sso_server_values(args.sso)
    return values


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }
