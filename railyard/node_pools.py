"""The `workflows` capacity as EKS Auto Mode objects: a NodeClass and a Karpenter NodePool.

Auto Mode launches a node when a pending pod fits the pool (its nodeSelector and tolerations
match the pool's labels and taint) and removes the node once it has been empty for a while;
nothing runs in the cluster to do it, so no image is added. Auto Mode nodes require IMDSv2
with a hop limit of 1 and that cannot be changed (EKS user guide, "Learn about EKS Auto Mode
managed instances"), matching the managed node groups' launch template.

Pure dict rendering: the EKS component installs these as CustomResources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

POOL_LABEL = "railyard.io/pool"
"""Node label naming the pool a node is in; pods choose their pool with it as nodeSelector."""
SYSTEM_NODE_LABEL = {POOL_LABEL: "system"}
"""The fixed managed node group: Argo's controller and server, CoreDNS, the Kanban bridge."""
WORKFLOW_NODE_LABEL = {POOL_LABEL: "workflows"}
"""The Auto Mode NodePool that follows demand: release step pods only."""
WORKFLOW_TAINT_KEY = "railyard.io/workflows"
"""Taint of the workflows pool (NoSchedule): only pods tolerating it land there."""

NODE_CLASS_API = ("eks.amazonaws.com/v1", "NodeClass")
NODE_POOL_API = ("karpenter.sh/v1", "NodePool")
CAPACITY_TYPES = ("spot", "on-demand")  # karpenter.sh/capacity-type values


@dataclass(frozen=True)
class WorkflowPool:
    """Where workflow pods run: labelled, tainted, bounded by total CPU and memory."""

    name: str
    instance_types: Sequence[str]
    max_cpu: int
    """vCPUs of all the pool's nodes together (the NodePool's limit)."""
    max_memory_gib: int
    spot: bool
    """Spot allowed (on-demand as fallback); False: on-demand only."""
    labels: Mapping[str, str]
    taint_key: str
    empty_for: str = "5m"
    """How long a node stays empty before it is removed."""


def node_class(pool: WorkflowPool, role_name: str, subnet_ids: Sequence[str], cluster: str) -> dict:
    """Nodes in the private subnets, with the cluster security group, under ``role_name``."""
    return {
        "apiVersion": NODE_CLASS_API[0],
        "kind": NODE_CLASS_API[1],
        "metadata": {"name": pool.name},
        "spec": {
            "role": role_name,
            "subnetSelectorTerms": [{"id": s} for s in subnet_ids],
            # the security group EKS made for the cluster (tagged with the cluster's name)
            "securityGroupSelectorTerms": [{"tags": {"aws:eks:cluster-name": cluster}}],
            "ephemeralStorage": {"size": "80Gi"},
            # Kubernetes' own semantics: a pod no NetworkPolicy selects is open; every
            # namespace railyard owns selects all its pods with a default-deny policy
            "networkPolicy": "DefaultAllow",
        },
    }


def node_pool(pool: WorkflowPool) -> dict:
    capacity = list(CAPACITY_TYPES) if pool.spot else ["on-demand"]
    return {
        "apiVersion": NODE_POOL_API[0],
        "kind": NODE_POOL_API[1],
        "metadata": {"name": pool.name},
        "spec": {
            "template": {
                "metadata": {"labels": dict(pool.labels)},
                "spec": {
                    "nodeClassRef": {
                        "group": NODE_CLASS_API[0].split("/")[0],
                        "kind": NODE_CLASS_API[1],
                        "name": pool.name,
                    },
                    "taints": [{"key": pool.taint_key, "value": "true", "effect": "NoSchedule"}],
                    "requirements": [
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity},
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": list(pool.instance_types),
                        },
                    ],
                    "expireAfter": "336h",  # nodes are replaced every two weeks (patches)
                    # a draining node waits this long for step pods (they are annotated
                    # karpenter.sh/do-not-disrupt; the longest step has a one-hour deadline)
                    "terminationGracePeriod": "2h",
                },
            },
            "limits": {"cpu": str(pool.max_cpu), "memory": f"{pool.max_memory_gib}Gi"},
            # only empty nodes go: a running release step is never moved to consolidate
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": pool.empty_for,
                "budgets": [{"nodes": "20%"}],
            },
        },
    }
