"""Argo Rollouts: the canary controller the backend lane waits on.

Installed from the argo-helm ``argo-rollouts`` chart with its CRDs, the controller image pinned
by digest (the chart writes ``registry/repository:tag``, so the tag carries ``@sha256:…``), on
the system nodes, Pod Security ``restricted``; no dashboard, no other image.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.argo_workflows import CHART_REPO, image_values
from components.owned_namespace import owned_namespace
from railyard import node_pools, pod_security

NAMESPACE = "argo-rollouts"


@dataclass
class ArgoRolloutsArgs:
    chart_version: str
    image: str
    """quay.io/argoproj/argo-rollouts:<tag>@sha256:<digest>"""


def chart_values(args: ArgoRolloutsArgs) -> dict:
    return {
        "installCRDs": True,
        "keepCRDs": True,
        # `edit` (the release service account's role in the backend namespace) then covers
        # reading a Rollout and aborting it (rollouts, rollouts/status)
        "createClusterAggregateRoles": True,
        "controller": {
            "image": image_values(args.image),
            "replicas": 2,
            "nodeSelector": node_pools.SYSTEM_NODE_LABEL,
            "resources": {
                "requests": {"cpu": "50m", "memory": "128Mi"},
                "limits": {"cpu": "500m", "memory": "512Mi"},
            },
        },
        "podSecurityContext": pod_security.pod_security_context(),
        "containerSecurityContext": pod_security.container_security_context(),
        "dashboard": {"enabled": False},
    }


class ArgoRollouts(pulumi.ComponentResource):
    """The controller and its CRDs; ``opts`` brings the Kubernetes provider."""

    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: ArgoRolloutsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:eks:ArgoRollouts", name, None, opts)
        namespace = owned_namespace("argo-rollouts", NAMESPACE, pulumi.ResourceOptions(parent=self))
        self.release = k8s.helm.v3.Release(
            "argo-rollouts",
            chart="argo-rollouts",
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=namespace.metadata.name,
            values=chart_values(args),
            atomic=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
