"""How railyard's pods run and who may reach them: Pod Security `restricted`, NetworkPolicies.

Every namespace the stack owns enforces the Kubernetes Pod Security Standard `restricted`, and
every pod railyard renders complies with it: a non-root high UID, the runtime's default seccomp
profile, no privilege escalation, no capabilities, a read-only root filesystem with a writable
``emptyDir`` where the program writes. Each owned namespace denies all ingress by default;
the few pods something must reach get a policy that names the port and the source.

Pure dict rendering (camelCase, as the API server receives it): components install these, the
release templates reuse the security contexts, and tests check them without mocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# The steps image's user (runtime/Dockerfile `USER`); every railyard pod runs as it. Checkov and
# most admission policies count UIDs below 10000 as possibly shared with a host account.
RUN_AS_USER = 10001
POD_SECURITY_LEVEL = "restricted"
# Writable scratch space under a read-only root filesystem.
SCRATCH_VOLUME = "tmp"
SCRATCH_PATH = "/tmp"
DEFAULT_DENY_INGRESS = "default-deny-ingress"
DNS_PORT = 53


def namespace_labels() -> dict[str, str]:
    """Pod Security Admission labels: reject, audit and warn on anything below `restricted`.

    ``latest`` evaluates pods by the rules of the cluster's own Kubernetes version, which the
    stack sets (``eksVersion``), so an upgrade of the cluster is where the rules move.
    """
    labels = {}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = POD_SECURITY_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return labels


def pod_security_context(run_as_user: int = RUN_AS_USER) -> dict:
    """Pod-level: non-root with a fixed high UID/GID, runtime-default seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_user,
        "fsGroup": run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(read_only_root: bool = True) -> dict:
    """Container-level: what `restricted` asks of every container, init containers included."""
    context = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if read_only_root:
        context["readOnlyRootFilesystem"] = True
    return context


def scratch_volume() -> dict:
    return {"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": "1Gi"}}


def scratch_mount() -> dict:
    return {"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH}


# --- NetworkPolicies ---------------------------------------------------------------------------
def default_deny_ingress(namespace: str) -> dict:
    """Selects every pod of the namespace and admits nothing: other policies add what is needed.

    The kubelet's probes come from the node's own address, which the policy engine always
    admits, so probes need no rule.
    """
    return _policy(DEFAULT_DENY_INGRESS, namespace, {}, ingress=[], types=("Ingress",))


def allow_ingress(
    name: str, namespace: str, pod_labels: Mapping[str, str], port: int, cidrs: Iterable[str]
) -> dict:
    """Admit TCP ``port`` of the selected pods from ``cidrs`` only."""
    sources = [{"ipBlock": {"cidr": c}} for c in cidrs]
    if not sources:
        raise ValueError(f"{name}: an ingress rule needs at least one source CIDR")
    rule = {"from": sources, "ports": [{"protocol": "TCP", "port": port}]}
    return _policy(name, namespace, pod_labels, ingress=[rule], types=("Ingress",))


def restrict_egress(
    name: str, namespace: str, pod_labels: Mapping[str, str], tcp_ports: Iterable[int]
) -> dict:
    """Egress of the selected pods to DNS and the named TCP ports only (any destination)."""
    ports = sorted(set(tcp_ports))
    if not ports:
        raise ValueError(f"{name}: an egress rule needs at least one port")
    dns = {"ports": [{"protocol": p, "port": DNS_PORT} for p in ("UDP", "TCP")]}
    out = {"ports": [{"protocol": "TCP", "port": p} for p in ports]}
    return _policy(name, namespace, pod_labels, egress=[dns, out], types=("Egress",))


def _policy(
    name: str, namespace: str, pod_labels: Mapping[str, str], types: tuple[str, ...], **rules
) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": dict(pod_labels)} if pod_labels else {},
            "policyTypes": list(types),
            **rules,
        },
    }
