"""The tainted workflows pool follows demand: EKS Auto Mode with one NodePool of ours.

Auto Mode launches a node for a pending workflow pod (its nodeSelector and toleration match
the pool) and removes empty ones; no autoscaler image runs in the cluster.
"""

from __future__ import annotations

import pytest

from offline.runner import run_offline
from railyard.release_templates.common import WORKFLOW_NODE_LABEL, WORKFLOW_TAINT_KEY
from tests.harness import plan_for, role_policy_attachments

CLUSTER = "eks:index:Cluster"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:eks.amazonaws.com/v1:NodeClass"


def test_auto_mode_launches_only_our_pool(stack_plan):
    cluster = stack_plan.one(CLUSTER).inputs
    auto = cluster["autoMode"]
    assert auto["enabled"] is True
    # no built-in pools (and so no node role on the compute config): only ours launches nodes
    assert auto["computeConfig"] == {"nodePools": []} and auto["createNodeRole"] is False
    entry = cluster["accessEntries"]["auto-nodes"]
    assert entry["type"] == "EC2"
    (policy,) = entry["accessPolicies"].values()
    assert policy["policyArn"].endswith("/AmazonEKSAutoNodePolicy")


def test_pool_matches_the_workflow_pods_and_scales_from_none(stack_plan):
    pool = stack_plan.one(NODE_POOL).inputs["spec"]
    template = pool["template"]
    assert template["metadata"]["labels"] == WORKFLOW_NODE_LABEL
    assert template["spec"]["taints"] == [
        {"key": WORKFLOW_TAINT_KEY, "value": "true", "effect": "NoSchedule"}
    ]
    assert pool["limits"] == {"cpu": "24", "memory": "96Gi"}
    # empty nodes go after a while; running steps are never moved
    assert pool["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert pool["disruption"]["consolidateAfter"] == "5m"
    requirements = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    assert requirements["node.kubernetes.io/instance-type"] == ["m6i.xlarge", "m5.xlarge"]


@pytest.mark.parametrize(
    ("stack", "capacity"), [("dev", ["spot", "on-demand"]), ("prod", ["on-demand"])]
)
def test_spot_in_dev_on_demand_in_prod(stack, capacity):
    template = plan_for(stack).one(NODE_POOL).inputs["spec"]["template"]
    requirements = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    assert requirements["karpenter.sh/capacity-type"] == capacity


def test_the_node_class_uses_the_private_subnets_and_the_auto_node_role(stack_plan):
    spec = stack_plan.one(NODE_CLASS).inputs["spec"]
    private = {s.id for s in stack_plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert {t["id"] for t in spec["subnetSelectorTerms"]} == private
    (role,) = [r for r in stack_plan.of_type("aws:iam/role:Role") if r.name.endswith("auto-nodes")]
    assert spec["role"] == role.inputs["name"]
    cluster = stack_plan.one(CLUSTER)
    assert spec["securityGroupSelectorTerms"] == [
        {"tags": {"aws:eks:cluster-name": cluster.inputs["name"]}}
    ]
    pool, node_class = stack_plan.one(NODE_POOL), stack_plan.one(NODE_CLASS)
    assert pool.inputs["spec"]["template"]["spec"]["nodeClassRef"] == {
        "group": "eks.amazonaws.com",
        "kind": "NodeClass",
        "name": node_class.inputs["metadata"]["name"],
    }
    assert node_class.urn in pool.dependencies


def test_auto_nodes_wait_for_their_role_policies(stack_plan):
    cluster = stack_plan.one(CLUSTER)
    attachments = role_policy_attachments(stack_plan, f"{cluster.name}-auto-nodes")
    assert set(attachments) == {
        "AmazonEKSWorkerNodeMinimalPolicy",
        "AmazonEC2ContainerRegistryPullOnly",
    }
    assert set(attachments.values()) <= set(cluster.dependencies)


def test_parallelism_beyond_the_pool_is_refused_with_the_largest_that_fits():
    with pytest.raises(
        Exception,
        match=r"argoParallelism: 40 workflows .* 440 step pods .*lower argoParallelism to 21",
    ):
        run_offline("dev", {"railyard:argoParallelism": 40})
    # a larger pool holds it
    plan = run_offline(
        "dev",
        {
            "railyard:argoParallelism": 40,
            "railyard:eksWorkflowPoolMaxCpu": 48,
            "railyard:eksWorkflowPoolMaxMemoryGib": 128,
        },
    )
    assert plan.one(NODE_POOL).inputs["spec"]["limits"]["cpu"] == "48"


def test_the_system_group_keeps_its_networking_and_gets_coredns_once_it_has_nodes(stack_plan):
    """Under Auto Mode pulumi-eks leaves out the VPC CNI and kube-proxy add-ons and adds
    CoreDNS inside the cluster: the node group would never get pod networking, and CoreDNS
    (waiting for schedulable pods) would hold the cluster that the node group waits for."""
    cluster = stack_plan.one(CLUSTER)
    assert cluster.inputs["useDefaultVpcCni"] is False  # False: pulumi-eks installs the add-on
    assert cluster.inputs["kubeProxyAddonOptions"]["enabled"] is True
    assert cluster.inputs["corednsAddonOptions"]["enabled"] is False
    assert cluster.inputs["skipDefaultSecurityGroups"] is False
    (coredns,) = stack_plan.of_type("aws:eks/addon:Addon")
    assert coredns.inputs["addonName"] == "coredns"
    (system,) = stack_plan.of_type("aws:eks/nodeGroup:NodeGroup")
    assert system.urn in coredns.dependencies


def test_every_step_pod_lands_on_the_pool_and_is_not_evicted_midway(stack_plan):
    """Auto Mode drains nodes for new AMIs and expiry; a step pod holds its node until done."""
    templates = stack_plan.of_type("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate")
    pods = [
        t
        for template in templates
        for t in template.inputs["spec"]["templates"]
        if {"container", "script"} & set(t)  # resource templates: a small executor pod anywhere
    ]
    assert len(pods) >= 10
    for pod in pods:
        assert pod["nodeSelector"] == WORKFLOW_NODE_LABEL, pod["name"]
        assert pod["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true", pod["name"]
