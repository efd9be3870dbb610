"""Kubernetes hardening as the real program registers it, for dev and prod.

Pod Security `restricted` on every namespace the stack owns and on every pod it renders (or
that Argo makes from its templates and chart values), default-deny ingress with the few
admitted paths named, the bridge without a Kubernetes token, and policy enforcement switched
on in the cluster.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from offline.k8s_objects import api_values, kubernetes_objects
from offline.runner import run_offline
from railyard import pod_security
from tests.harness import plan_for
from tests.pod_security_standard import restricted_violations

NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DOCKERFILE = Path(__file__).resolve().parents[2] / "runtime" / "Dockerfile"


def chart_values(plan) -> dict:
    return api_values(
        plan.one("kubernetes:helm.sh/v3:Release", under="railyard:eks:ArgoWorkflows").inputs[
            "values"
        ]
    )


def objects_of(plan, kind: str) -> list[dict]:
    return [o for o in kubernetes_objects(plan) if o["kind"] == kind]


def policies_in(plan, namespace: str) -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o
        for o in objects_of(plan, "NetworkPolicy")
        if o["metadata"]["namespace"] == namespace
    }


# --- Namespaces ------------------------------------------------------------------------------
def test_every_owned_namespace_enforces_restricted_and_denies_ingress(stack_plan):
    names = [o["metadata"]["name"] for o in objects_of(stack_plan, "Namespace")]
    # prod's backend is an Argo Rollouts canary: the controller gets its own namespace
    rollouts = ["argo-rollouts"] if stack_plan.stack == "prod" else []
    assert sorted(names) == sorted(["argo", "backend", "kanban", "workflows", *rollouts])
    for ns in objects_of(stack_plan, "Namespace"):
        labels = ns["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", ns
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"
        deny = policies_in(stack_plan, ns["metadata"]["name"])["default-deny-ingress"]
        # every pod of the namespace, ingress only, no rule: nothing is admitted
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}


def test_policies_are_created_after_their_namespace(stack_plan):
    namespaces = {r.inputs["metadata"]["name"]: r.urn for r in stack_plan.of_type(NAMESPACE_TYPE)}
    for policy in stack_plan.of_type(POLICY_TYPE):
        assert namespaces[policy.inputs["metadata"]["namespace"]] in policy.dependencies


def test_only_the_bridge_metrics_and_argo_server_events_are_admitted(stack_plan):
    vpc = stack_plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"]
    private = sorted(
        s.inputs["cidrBlock"]
        for s in stack_plan.of_type("aws:ec2/subnet:Subnet")
        if "-private-" in s.name
    )
    admitting = sorted(
        (o["metadata"]["namespace"], o["metadata"]["name"], o["spec"])
        for o in objects_of(stack_plan, "NetworkPolicy")
        if o["spec"].get("ingress")
    )
    for _, _, spec in admitting:
        spec["ingress"][0]["from"].sort(key=lambda f: f["ipBlock"]["cidr"])
    assert admitting == [
        (
            "argo",
            "argo-server-events",
            {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "argo-workflows-server"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": c}} for c in private],
                        "ports": [{"protocol": "TCP", "port": 2746}],
                    }
                ],
            },
        ),
        (
            "kanban",
            "railyard-bridge-metrics",
            {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "railyard-bridge"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": vpc}}],
                        "ports": [{"protocol": "TCP", "port": 9102}],
                    }
                ],
            },
        ),
    ]
    (bridge,) = objects_of(stack_plan, "Deployment")
    (port,) = bridge["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert port["containerPort"] == 9102


def test_bridge_egress_is_dns_https_and_the_board_port():
    plan = run_offline("dev", {"railyard:kanbanBoardUrl": "https://kanban.example.com:8443/hooks"})
    egress = policies_in(plan, "kanban")["railyard-bridge-egress"]["spec"]
    assert egress["policyTypes"] == ["Egress"]
    dns, tcp = egress["egress"]
    assert dns == {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    assert tcp == {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 8443}]}
    default = policies_in(plan_for("dev"), "kanban")["railyard-bridge-egress"]["spec"]
    assert default["egress"][1] == {"ports": [{"protocol": "TCP", "port": 443}]}


# --- Pods ------------------------------------------------------------------------------------
def test_bridge_complies_and_holds_no_kubernetes_token(stack_plan):
    (bridge,) = objects_of(stack_plan, "Deployment")
    pod = bridge["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is False
    (account,) = [
        o
        for o in objects_of(stack_plan, "ServiceAccount")
        if o["metadata"]["name"] == pod["serviceAccountName"]
    ]
    assert account["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsUser"] >= 10000
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_argo_controller_and_server_pods_comply(stack_plan):
    values = chart_values(stack_plan)
    for part in ("controller", "server"):
        # the chart renders podSecurityContext on the pod and securityContext on its container
        pod = {
            "securityContext": values[part]["podSecurityContext"],
            "containers": [{"name": part, "securityContext": values[part]["securityContext"]}],
        }
        assert restricted_violations(pod) == [], part
        assert values[part]["securityContext"]["readOnlyRootFilesystem"] is True
        assert set(values[part]["resources"]["limits"]) == {"cpu", "memory"}


def argo_pods(workflow_spec: dict, values: dict) -> dict[str, dict]:
    """The pods Argo's controller makes from a Workflow's templates, with the chart's defaults.

    Workflow defaults fill what the spec leaves out; a template's securityContext replaces the
    spec's; the main container is the controller's ``mainContainer`` defaults merged under the
    template's container; the init and wait containers carry the executor's securityContext.
    """
    defaults = values["controller"]["workflowDefaults"]["spec"]
    spec = {**defaults, **workflow_spec}
    executor = values["executor"].get("securityContext")
    main_defaults = values.get("mainContainer", {}).get("securityContext", {})
    pods = {}
    for t in spec.get("templates", []):
        sc = t.get("securityContext", spec.get("securityContext"))
        volumes = [*spec.get("volumes", []), *t.get("volumes", [])]
        if "container" in t:
            main = copy.deepcopy(t["container"])
            main["securityContext"] = {**main_defaults, **main.get("securityContext", {})}
            main["name"] = "main"
            containers = [main, {"name": "wait", "securityContext": executor}]
            init = [{"name": "init", "securityContext": executor}]
        elif "resource" in t:
            containers, init = [{"name": "main", "securityContext": executor}], []
        else:
            continue  # dag, steps, suspend: no pod
        pods[t["name"]] = {
            "securityContext": sc,
            "volumes": volumes,
            "initContainers": init,
            "containers": containers,
        }
    return pods


def test_every_workflow_pod_complies_init_and_wait_included(stack_plan):
    values = chart_values(stack_plan)
    workflows = objects_of(stack_plan, "WorkflowTemplate") + objects_of(stack_plan, "Workflow")
    templates = {o["metadata"]["name"]: o for o in objects_of(stack_plan, "WorkflowTemplate")}
    checked = 0
    for wf in workflows:
        spec = wf["spec"]
        ref = spec.get("workflowTemplateRef")
        if ref:  # a Workflow made from a template: the template's spec under its own
            spec = {**templates[ref["name"]]["spec"], **spec}
        for name, pod in argo_pods(spec, values).items():
            assert restricted_violations(pod) == [], (wf["metadata"], name)
            checked += 1
    assert checked >= 20


def test_release_step_containers_have_a_read_only_root_and_scratch_space(stack_plan):
    for wf in objects_of(stack_plan, "WorkflowTemplate"):
        spec = wf["spec"]
        assert spec["securityContext"] == pod_security.pod_security_context()
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in spec["volumes"]
        for t in spec["templates"]:
            if "container" not in t:
                continue
            container = t["container"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, t["name"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], t["name"]
            assert "cpu" in container["resources"]["limits"], t["name"]


def test_a_workflow_submitted_by_hand_complies_through_the_defaults(stack_plan):
    values = chart_values(stack_plan)
    adhoc = {"templates": [{"name": "hello", "container": {"image": "busybox"}}]}
    assert restricted_violations(argo_pods(adhoc, values)["hello"]) == []


def test_every_rendered_pod_runs_as_the_steps_image_user(stack_plan):
    user = next(
        line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("USER ")
    )
    assert int(user) == pod_security.RUN_AS_USER
    contexts = [
        o["spec"]["template"]["spec"]["securityContext"]
        for o in objects_of(stack_plan, "Deployment")
    ]
    contexts += [o["spec"]["securityContext"] for o in objects_of(stack_plan, "WorkflowTemplate")]
    values = chart_values(stack_plan)
    contexts.append(values["controller"]["workflowDefaults"]["spec"]["securityContext"])
    assert {c["runAsUser"] for c in contexts} == {pod_security.RUN_AS_USER}


# --- The cluster -----------------------------------------------------------------------------
def test_network_policies_are_enforced_on_both_kinds_of_node(stack_plan):
    # managed node group: the VPC CNI add-on's network policy agent (and the controller)
    cluster = stack_plan.one("eks:index:Cluster")
    assert cluster.inputs["vpcCniOptions"]["enableNetworkPolicy"] is True
    assert cluster.inputs["useDefaultVpcCni"] is False  # the add-on is managed, options apply
    # Auto Mode nodes: the NodeClass keeps Kubernetes semantics (unselected pods open)
    (node_class,) = objects_of(stack_plan, "NodeClass")
    assert node_class["spec"]["networkPolicy"] == "DefaultAllow"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_checkov_skip_without_a_reason(stack):
    skips = [
        (o["metadata"].get("name"), k, v)
        for o in kubernetes_objects(plan_for(stack))
        for k, v in ((o["metadata"].get("annotations") or {}).items())
        if k.startswith("checkov.io/skip")
    ]
    for name, key, value in skips:
        check, _, reason = value.partition("=")
        assert check.startswith("CKV") and reason.strip(), (name, key, value)
