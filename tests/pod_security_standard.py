"""The Kubernetes Pod Security Standard `restricted` (baseline included), as a checker of pod specs.

Written from the standard's published controls (kubernetes.io, "Pod Security Standards",
Kubernetes v1.33): the admission controller runs the same list when a namespace is labelled
``pod-security.kubernetes.io/enforce: restricted``. Tests feed it every pod spec railyard
renders, or the pod Argo would make from a template, and expect no violation.
"""

from __future__ import annotations

RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
ALLOWED_SECCOMP = {"RuntimeDefault", "Localhost"}
HOST_FIELDS = ("hostNetwork", "hostPID", "hostIPC")
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def restricted_violations(pod: dict) -> list[str]:
    """Every control of `restricted` the pod spec breaks, as 'where: what' lines."""
    problems: list[str] = []
    pod_sc = pod.get("securityContext") or {}
    for field in HOST_FIELDS:
        if pod.get(field):
            problems.append(f"pod: {field} is set")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume.get('name')}: type {sorted(kinds)} not allowed")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"pod: sysctl {sysctl.get('name')} is not a safe one")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod: runAsUser is 0")
    containers = [
        *(pod.get("initContainers") or []),
        *(pod.get("containers") or []),
        *(pod.get("ephemeralContainers") or []),
    ]
    if not containers:
        problems.append("pod: no containers")
    for c in containers:
        problems += _container_violations(c, pod_sc)
    return problems


def _container_violations(c: dict, pod_sc: dict) -> list[str]:
    where = f"container {c.get('name', '?')}"
    sc = c.get("securityContext") or {}
    problems = []
    if sc.get("privileged"):
        problems.append(f"{where}: privileged")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append(f"{where}: hostProcess")
    if any(p.get("hostPort") for p in c.get("ports") or []):
        problems.append(f"{where}: hostPort")
    if sc.get("procMount", "Default") != "Default":
        problems.append(f"{where}: procMount {sc['procMount']}")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if non_root is not True:
        problems.append(f"{where}: runAsNonRoot is not true (pod or container)")
    if sc.get("runAsUser") == 0:
        problems.append(f"{where}: runAsUser is 0")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ALLOWED_SECCOMP:
        problems.append(f"{where}: seccompProfile is {seccomp!r}, not RuntimeDefault/Localhost")
    capabilities = sc.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append(f"{where}: capabilities do not drop ALL")
    added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        problems.append(f"{where}: adds capabilities {sorted(added)}")
    return problems
