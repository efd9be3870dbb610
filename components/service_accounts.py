"""Service accounts argo-server acts as, and the namespaced rights given to accounts.

argo-server acts for a verified webhook or an SSO login with a service account's token: a
``kubernetes.io/service-account-token`` Secret it finds through the account's
``workflows.argoproj.io/service-account-token.name`` annotation (Kubernetes 1.24+ creates none
by itself). Pods never mount these accounts' tokens.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

ARGO_GROUP = "argoproj.io"
"""The API group of Argo's kinds (Workflows, templates, bindings), for rules over them."""


def token_account(
    name: str,
    namespace: pulumi.Input[str],
    parent: pulumi.Resource,
    annotations: Mapping[str, str] | None = None,
) -> k8s.core.v1.ServiceAccount:
    """The account ``name`` and its long-lived token Secret ``<name>.service-account-token``."""
    token = f"{name}.service-account-token"
    account = k8s.core.v1.ServiceAccount(
        name,
        metadata={
            "name": name,
            "namespace": namespace,
            "annotations": {
                **(annotations or {}),
                "workflows.argoproj.io/service-account-token.name": token,
            },
        },
        automount_service_account_token=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    k8s.core.v1.Secret(
        f"{name}-token",
        metadata={
            "name": token,
            "namespace": namespace,
            "annotations": {"kubernetes.io/service-account.name": name},
        },
        type="kubernetes.io/service-account-token",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[account]),
    )
    return account


def grant(
    name: str,
    namespace: pulumi.Input[str],
    rules: list[dict],
    account: tuple[pulumi.Input[str], str],
    parent: pulumi.Resource,
) -> None:
    """Role ``name`` with ``rules`` in ``namespace``, bound to ``account`` (namespace, name)."""
    role = k8s.rbac.v1.Role(
        name,
        metadata={"name": name, "namespace": namespace},
        rules=rules,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    account_namespace, account_name = account
    k8s.rbac.v1.RoleBinding(
        name,
        metadata={"name": name, "namespace": namespace},
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        subjects=[{"kind": "ServiceAccount", "name": account_name, "namespace": account_namespace}],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role]),
    )
