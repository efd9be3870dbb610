"""Single sign-on to the Argo UI: people log in with the organisation's OIDC provider.

argo-server runs with ``--auth-mode=sso`` beside ``client`` (CLI tokens keep working). A user's
groups pick the service account argo-server acts as, by the ``rbac-rule`` annotation (an
expression over the login's claims); the higher precedence wins:

- ``argo-ui-release-manager``: read everything, and submit, retry, resubmit, stop, resume
  (the release approval) and delete Workflows;
- ``argo-ui-read-only``: read Workflows, templates, bindings and pod logs.

Both act in the workflows namespace only. A user in neither group is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.service_accounts import ARGO_GROUP, grant, token_account

CLIENT_SECRET = "argo-server-sso"
"""Secret (keys client-id, client-secret) in Argo's namespace; the chart's default name."""
READ_ONLY = "argo-ui-read-only"
RELEASE_MANAGER = "argo-ui-release-manager"
READ_VERBS = ["get", "list", "watch"]
READ_RULES = [
    {
        "apiGroups": [ARGO_GROUP],
        "resources": [
            "workflows",
            "workflowtemplates",
            "cronworkflows",
            "workfloweventbindings",
            "workflowtaskresults",
        ],
        "verbs": READ_VERBS,
    },
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": READ_VERBS},
]
RELEASE_RULES = [
    *READ_RULES,
    {
        "apiGroups": [ARGO_GROUP],
        "resources": ["workflows"],
        "verbs": ["create", "update", "patch", "delete"],
    },
]


@dataclass
class ArgoSsoArgs:
    issuer: str
    client_id: str
    client_secret: pulumi.Input[str]
    redirect_url: str
    read_only_groups: list[str]
    release_manager_groups: list[str]
    server_namespace: pulumi.Input[str]
    """argo-server's namespace: the client Secret and the two service accounts."""
    workflows_namespace: pulumi.Input[str]


def group_rule(groups: list[str]) -> str:
    """An rbac-rule: the login's ``groups`` claim holds one of ``groups``."""
    return f"any({json.dumps(groups)}, {{# in groups}})"


def server_values(args: ArgoSsoArgs) -> dict:
    """The chart's ``server`` values that turn SSO on (merged over the others)."""
    return {
        "authModes": ["sso", "client"],
        "sso": {
            "enabled": True,
            "issuer": args.issuer,
            "clientId": {"name": CLIENT_SECRET, "key": "client-id"},
            "clientSecret": {"name": CLIENT_SECRET, "key": "client-secret"},
            "redirectUrl": args.redirect_url,
            "rbac": {"enabled": True},
            # the rules read `groups`: a login without that claim could match no rule
            "scopes": ["groups"],
        },
    }


class ArgoSso(pulumi.ComponentResource):
    """The client Secret and the accounts SSO users act as; ``opts`` brings the Kubernetes
    provider."""

    client_secret: k8s.core.v1.Secret

    def __init__(self, name: str, args: ArgoSsoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:eks:ArgoSso", name, None, opts)
        self.client_secret = k8s.core.v1.Secret(
            "argo-server-sso",
            metadata={"name": CLIENT_SECRET, "namespace": args.server_namespace},
            string_data={
                "client-id": args.client_id,
                "client-secret": pulumi.Output.secret(args.client_secret),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        for account, groups, precedence, rules in (
            (READ_ONLY, args.read_only_groups, 0, READ_RULES),
            (RELEASE_MANAGER, args.release_manager_groups, 1, RELEASE_RULES),
        ):
            if groups:
                self._account(args, account, groups, precedence, rules)
        self.register_outputs({})

    def _account(self, args: ArgoSsoArgs, account: str, groups, precedence: int, rules) -> None:
        token_account(
            account,
            args.server_namespace,
            self,
            annotations={
                "workflows.argoproj.io/rbac-rule": group_rule(groups),
                "workflows.argoproj.io/rbac-rule-precedence": str(precedence),
            },
        )
        grant(account, args.workflows_namespace, rules, (args.server_namespace, account), self)
