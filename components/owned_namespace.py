"""A namespace railyard owns: Pod Security `restricted` enforced, all ingress denied by default.

Every namespace the stack creates goes through ``owned_namespace``, so none can be added
without the labels and the default-deny policy; ``network_policy`` installs the extra policies
a workload needs (``railyard.pod_security`` renders them).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from railyard import pod_security


def owned_namespace(
    resource_name: str, name: str, opts: pulumi.ResourceOptions
) -> k8s.core.v1.Namespace:
    """The namespace ``name`` and its default-deny ingress policy (``opts``: parent, provider)."""
    namespace = k8s.core.v1.Namespace(
        resource_name,
        metadata={"name": name, "labels": pod_security.namespace_labels()},
        opts=opts,
    )
    network_policy(
        f"{resource_name}-{pod_security.DEFAULT_DENY_INGRESS}",
        pod_security.default_deny_ingress(name),
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )
    return namespace


def network_policy(
    resource_name: str, body: dict, opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    return k8s.networking.v1.NetworkPolicy(
        resource_name, metadata=body["metadata"], spec=body["spec"], opts=opts
    )
