"""The push webhooks on GitHub, created by the stack when it holds a token for them.

Each repository whose pushes start a release (the infrastructure repository and the
application repositories) gets one webhook: the API Gateway URL, JSON bodies, the generated
HMAC secret, push events only. Without a token the stack exports the URL and the secret to
paste instead (docs/triggers.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github


@dataclass
class GithubWebhooksArgs:
    repositories: list[str]
    """Repository names under the owner the provider in ``opts`` acts for."""
    url: pulumi.Input[str]
    secret: pulumi.Input[str]


class GithubWebhooks(pulumi.ComponentResource):
    """One push webhook per repository; ``opts`` brings the GitHub provider (owner, token)."""

    def __init__(
        self, name: str, args: GithubWebhooksArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:release:GithubWebhooks", name, None, opts)
        for repository in args.repositories:
            github.RepositoryWebhook(
                f"{name}-{repository}",
                repository=repository,
                active=True,
                events=["push"],
                configuration=github.RepositoryWebhookConfigurationArgs(
                    url=args.url,
                    content_type="json",  # argo-server reads JSON bodies only
                    secret=pulumi.Output.secret(args.secret),
                    insecure_ssl=False,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
