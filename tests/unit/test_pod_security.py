"""Pod Security and NetworkPolicy rendering, and the `restricted` checker the stack tests use."""

from __future__ import annotations

import pytest

from railyard import pod_security
from tests.pod_security_standard import restricted_violations


def compliant_pod() -> dict:
    return {
        "securityContext": pod_security.pod_security_context(),
        "volumes": [pod_security.scratch_volume(), {"name": "s", "secret": {"secretName": "x"}}],
        "containers": [
            {
                "name": "app",
                "securityContext": pod_security.container_security_context(),
                "volumeMounts": [pod_security.scratch_mount()],
            }
        ],
    }


def test_rendered_contexts_pass_the_checker():
    assert restricted_violations(compliant_pod()) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda p: p.update(hostNetwork=True), "pod: hostNetwork is set"),
        (lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "volume h"),
        (lambda p: p["securityContext"].update(runAsUser=0), "pod: runAsUser is 0"),
        (
            lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
            "allowPrivilegeEscalation is not false",
        ),
        (
            lambda p: p["containers"][0]["securityContext"]["capabilities"].update(
                add=["SYS_ADMIN"]
            ),
            "adds capabilities ['SYS_ADMIN']",
        ),
        (
            lambda p: p["containers"][0]["securityContext"]["capabilities"].update(
                drop=["NET_RAW"]
            ),
            "do not drop ALL",
        ),
        (
            lambda p: p["containers"][0]["securityContext"].update(privileged=True),
            "container app: privileged",
        ),
        (
            lambda p: p["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]),
            "hostPort",
        ),
        (
            lambda p: p.update(initContainers=[{"name": "init", "securityContext": {}}]),
            "container init: allowPrivilegeEscalation",
        ),
    ],
)
def test_the_checker_finds_each_broken_control(breakage, expected):
    pod = compliant_pod()
    breakage(pod)
    assert any(expected in v for v in restricted_violations(pod)), restricted_violations(pod)


def test_seccomp_and_non_root_may_come_from_the_pod_or_every_container():
    pod = compliant_pod()
    del pod["containers"][0]["securityContext"]["seccompProfile"]
    del pod["containers"][0]["securityContext"]["runAsNonRoot"]
    assert restricted_violations(pod) == []  # the pod's own settings cover the container
    del pod["securityContext"]["seccompProfile"]
    pod["securityContext"]["runAsNonRoot"] = False
    assert {v.split(": ", 1)[1].split(" ")[0] for v in restricted_violations(pod)} == {
        "runAsNonRoot",
        "seccompProfile",
    }


def test_writable_root_only_when_asked():
    assert pod_security.container_security_context()["readOnlyRootFilesystem"] is True
    assert "readOnlyRootFilesystem" not in pod_security.container_security_context(False)


def test_namespace_labels_enforce_audit_and_warn_restricted():
    labels = pod_security.namespace_labels()
    assert labels == {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", "restricted"), ("-version", "latest"))
    }


def test_default_deny_selects_every_pod_and_admits_nothing():
    policy = pod_security.default_deny_ingress("kanban")
    assert policy["metadata"] == {"name": "default-deny-ingress", "namespace": "kanban"}
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}


def test_allow_ingress_names_port_and_sources():
    policy = pod_security.allow_ingress("m", "kanban", {"app": "x"}, 9102, ["10.0.0.0/16"])
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "x"}}
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}],
            "ports": [{"protocol": "TCP", "port": 9102}],
        }
    ]
    # an empty source list would read as "from anywhere" to Kubernetes
    with pytest.raises(ValueError, match="m: an ingress rule needs at least one source"):
        pod_security.allow_ingress("m", "kanban", {"app": "x"}, 9102, [])


def test_restrict_egress_keeps_dns_and_sorts_ports():
    policy = pod_security.restrict_egress("e", "kanban", {"app": "x"}, {8443, 443})
    dns, tcp = policy["spec"]["egress"]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert tcp["ports"] == [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 8443}]
    assert policy["spec"]["policyTypes"] == ["Egress"]
    with pytest.raises(ValueError, match="e: an egress rule needs at least one port"):
        pod_security.restrict_egress("e", "kanban", {"app": "x"}, [])
