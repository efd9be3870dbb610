"""GitHub pushes start releases through argo-server's own events API.

- the ``github`` webhook client: Secret ``argo-workflows-webhook-clients`` maps the client's
  service account to ``type: github`` and a generated HMAC secret (argo-server skips the
  signature check when the secret is empty, so it never is);
- that service account, its token Secret (argo-server acts with it on a match) and a Role with
  exactly what a match needs: list bindings, get templates, create workflows;
- a Role for argo-server to read that client Secret, the token and the account, nothing else;
- the WorkflowEventBindings (``railyard.release_templates.triggers``), after their templates.

The path GitHub posts to is exported; the secret is exported as a Pulumi secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.service_accounts import ARGO_GROUP, grant, token_account
from railyard.release_templates import common, triggers

CLIENTS_SECRET = "argo-workflows-webhook-clients"
"""The Secret argo-server reads webhook clients from, in the namespace events are posted to."""
CLIENT_ACCOUNT = "github-webhook"
TOKEN_SECRET = f"{CLIENT_ACCOUNT}.service-account-token"


@dataclass
class ReleaseTriggersArgs:
    settings: common.ReleaseSettings
    """The templates' settings (namespace, environment, repositories)."""
    triggers: triggers.TriggerSettings
    workflows_namespace: pulumi.Input[str]
    server_account: tuple[str, str]
    """argo-server's service account: (namespace, name)."""
    templates: list[pulumi.Resource]
    """The WorkflowTemplates the bindings submit: installed first."""
    crds: list[pulumi.Resource]


class ReleaseTriggers(pulumi.ComponentResource):
    """The webhook client and the bindings; ``opts`` brings the Kubernetes provider."""

    webhook_secret: pulumi.Output[str]
    webhook_path: pulumi.Output[str]

    def __init__(
        self, name: str, args: ReleaseTriggersArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:release:ReleaseTriggers", name, None, opts)
        hmac = random.RandomPassword(
            f"{name}-github-hmac",
            length=48,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = self._client_account(args)
        self._server_access(args)
        clients = k8s.core.v1.Secret(
            "webhook-clients",
            metadata={"name": CLIENTS_SECRET, "namespace": args.workflows_namespace},
            string_data={
                CLIENT_ACCOUNT: pulumi.Output.secret(hmac.result).apply(
                    lambda key: f"type: github\nsecret: {key}\n"
                )
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account]),
        )
        for body in triggers.all_bindings(args.settings, args.triggers):
            k8s.apiextensions.CustomResource(
                body["metadata"]["name"],
                api_version=body["apiVersion"],
                kind=body["kind"],
                metadata=body["metadata"],
                spec=body["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*args.crds, *args.templates, clients]
                ),
            )
        self.webhook_secret = pulumi.Output.secret(hmac.result)
        self.webhook_path = pulumi.Output.from_input(triggers.events_path(args.settings.namespace))
        self.register_outputs({"webhookPath": self.webhook_path})

    def _client_account(self, args: ReleaseTriggersArgs) -> k8s.core.v1.ServiceAccount:
        """The account argo-server submits matched events as: exactly what a match needs."""
        ns = args.workflows_namespace
        account = token_account(CLIENT_ACCOUNT, ns, self)
        grant(
            "webhook-client",
            ns,
            [
                {
                    "apiGroups": [ARGO_GROUP],
                    "resources": ["workfloweventbindings"],
                    "verbs": ["list"],
                },
                {"apiGroups": [ARGO_GROUP], "resources": ["workflowtemplates"], "verbs": ["get"]},
                {"apiGroups": [ARGO_GROUP], "resources": ["workflows"], "verbs": ["create"]},
            ],
            (ns, CLIENT_ACCOUNT),
            self,
        )
        return account

    def _server_access(self, args: ReleaseTriggersArgs) -> None:
        """argo-server reads the client Secret, the token and the account, by name only."""
        grant(
            "argo-server-webhooks",
            args.workflows_namespace,
            [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [CLIENTS_SECRET, TOKEN_SECRET],
                    "verbs": ["get"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["serviceaccounts"],
                    "resourceNames": [CLIENT_ACCOUNT],
                    "verbs": ["get"],
                },
            ],
            args.server_account,
            self,
        )
