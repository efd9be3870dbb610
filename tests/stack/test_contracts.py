"""What the stack writes for the runtime is what the runtime reads: the release ConfigMap and
the templates' variables (steps), the bridge's Deployment (bridge), the build hosts' agent.env
(agent), and where pods are scheduled (the node pools' label and taint)."""

from __future__ import annotations

import base64

import pytest
import yaml

from railyard.release_templates import common
from railyard_runtime import environment
from railyard_runtime.agent import settings as agent_settings
from railyard_runtime.environment import (
    AgentEnv,
    BridgeEnv,
    FederationEnv,
    InstanceRoleEnv,
    StepsEnv,
)
from railyard_runtime.errors import BadInput
from railyard_runtime.kanban import server

AWS_SDK = {"AWS_REGION"}  # read by boto3 itself
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"
BRIDGE = "kubernetes:apps/v1:Deployment"
LAUNCH_TEMPLATE = "alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"


def release_env(plan) -> dict[str, str]:
    (config_map,) = [
        c for c in plan.of_type(CONFIG_MAP) if c.inputs["metadata"]["name"] == common.ENV_CONFIG_MAP
    ]
    return config_map.inputs["data"]


def template_env_names(plan) -> set[str]:
    return {
        var["name"]
        for t in plan.of_type(TEMPLATE)
        for template in t.inputs["spec"]["templates"]
        for var in template.get("container", {}).get("env", [])
    }


def test_the_release_pods_get_only_names_the_steps_read(stack_plan):
    steps = set(StepsEnv) | set(FederationEnv)
    written = set(release_env(stack_plan)) | template_env_names(stack_plan)
    assert written - AWS_SDK - {"HOME"} <= steps
    # federation is all or nothing: the ConfigMap's ARNs go with the templates' token file
    assert set(FederationEnv) - written == {
        FederationEnv.ROLE_SESSION_NAME,
        FederationEnv.STS_ENDPOINT,
    }


def bridge(plan) -> dict:
    (deployment,) = [d for d in plan.of_type(BRIDGE) if d.name == "railyard-bridge"]
    return deployment.inputs["spec"]["template"]["spec"]


def test_the_bridge_gets_every_setting_it_requires_and_only_what_it_reads(stack_plan, monkeypatch):
    (container,) = bridge(stack_plan)["containers"]
    env = {var["name"]: var["value"] for var in container["env"]}
    assert set(env) - AWS_SDK <= set(BridgeEnv)
    for name in BridgeEnv:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BadInput) as refused:
        server.build_bridge()
    required = {
        line.strip().split(":")[0]
        for line in refused.value.message.splitlines()
        if line.endswith(": not set")
    }
    assert required and required <= set(env)


def test_the_bridge_files_are_where_the_stack_mounts_them(stack_plan):
    spec = bridge(stack_plan)
    (container,) = spec["containers"]
    env = {var["name"]: var["value"] for var in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    (board,) = [
        c for c in stack_plan.of_type(CONFIG_MAP) if "board.json" in c.inputs.get("data", {})
    ]
    config_dir = next(mounts[n] for n, v in volumes.items() if "configMap" in v)
    secret_dir = next(mounts[n] for n, v in volumes.items() if "secret" in v)
    config_file = environment.BOARD_CONFIG_FILE
    secret_file = environment.BOARD_SECRET_FILE
    assert env[BridgeEnv.BOARD_CONFIG] == f"{config_dir}/{config_file.name}"
    assert config_file.name in board.inputs["data"]
    assert env[BridgeEnv.BOARD_SECRET_FILE] == f"{secret_dir}/{secret_file.name}"


def agent_env(plan) -> dict[str, str]:
    (template,) = plan.of_type(LAUNCH_TEMPLATE)
    doc = yaml.safe_load(base64.b64decode(template.inputs["userData"]))
    (env_file,) = [f for f in doc["write_files"] if f["path"] == str(environment.AGENT_ENV_FILE)]
    return dict(line.split("=", 1) for line in env_file["content"].splitlines())


def test_the_build_hosts_get_only_names_the_agent_reads(stack_plan):
    env = agent_env(stack_plan)
    assert set(env) <= set(AgentEnv) | set(InstanceRoleEnv)
    agent_settings.from_env(env)  # and the agent starts with them


def pools(plan) -> dict[str, tuple[dict, list[dict]]]:
    """Each pool's node labels and taints: the system node group and the Auto Mode NodePool."""
    found = {n.name: (n.inputs.get("labels", {}), []) for n in plan.of_type(NODE_GROUP)}
    for pool in plan.of_type(NODE_POOL):
        template = pool.inputs["spec"]["template"]
        found[pool.name] = (template["metadata"]["labels"], template["spec"].get("taints", []))
    return found


def scheduling(value, where=""):
    """(path, nodeSelector, tolerations) of every pod spec, template or chart value inside."""
    if isinstance(value, dict):
        if "nodeSelector" in value:
            yield where, value["nodeSelector"], value.get("tolerations", [])
        for key, inner in value.items():
            yield from scheduling(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from scheduling(inner, f"{where}[{i}]")


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    return any(
        t["key"] == taint["key"]
        and t.get("effect", taint["effect"]) == taint["effect"]
        and (t.get("operator") == "Exists" or t.get("value") == taint.get("value"))
        for t in tolerations
    )


def test_every_pod_is_scheduled_on_a_pool_that_exists_and_tolerates_its_taint(stack_plan):
    known = pools(stack_plan)
    placed = []
    for r in stack_plan.resources:
        for where, selector, tolerations in scheduling(r.inputs, r.name):
            matching = [
                name for name, (labels, _) in known.items() if selector.items() <= labels.items()
            ]
            assert matching, f"{where}: {selector} selects no pool of {known}"
            for name in matching:
                untolerated = [t for t in known[name][1] if not tolerates(tolerations, t)]
                assert not untolerated, f"{where}: does not tolerate {untolerated} of {name}"
            taints = [t for name in known for t in known[name][1]]
            assert all(any(t["key"] == x["key"] for x in taints) for t in tolerations), where
            placed.append(where.split(".")[0])
    # the bridge, Argo's controller and server (chart values) and the step templates
    assert {"railyard-bridge", "argo-workflows"} <= set(placed)
    assert len(placed) >= 10
