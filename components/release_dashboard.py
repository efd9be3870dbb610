"""The release dashboard: one CloudWatch dashboard per environment (a managed service, no
image), drawn from the metrics the reports, the bridge and the canary put (``railyard.
dashboard`` holds its layout)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from railyard.dashboard import DashboardTargets, dashboard_body

_NAME = re.compile(r"^[0-9A-Za-z_-]{1,255}$")  # the provider's dashboard_name rule


@dataclass
class ReleaseDashboardArgs:
    env: str
    region: str
    queue_name: pulumi.Input[str]
    """The event feed's queue (its lag) and dead-letter queue (its depth)."""
    dlq_name: pulumi.Input[str]
    canary_name: pulumi.Input[str]


class ReleaseDashboard(pulumi.ComponentResource):
    """``opts`` brings the AWS provider."""

    name: str
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ReleaseDashboardArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:observability:ReleaseDashboard", name, None, opts)
        if not _NAME.fullmatch(name):
            raise ValueError(f"dashboard name {name!r}: 1-255 of A-Z, a-z, 0-9, - and _")
        self.name = name
        body = pulumi.Output.all(args.queue_name, args.dlq_name, args.canary_name).apply(
            lambda v: json.dumps(
                dashboard_body(DashboardTargets(args.env, args.region, *v)), sort_keys=True
            )
        )
        dashboard = aws.cloudwatch.Dashboard(
            name, dashboard_name=name, dashboard_body=body, opts=pulumi.ResourceOptions(parent=self)
        )
        self.url = pulumi.Output.concat(
            f"https://{args.region}.console.aws.amazon.com/cloudwatch/home?region={args.region}",
            "#dashboards/dashboard/",
            dashboard.dashboard_name,
        )
        self.register_outputs({"url": self.url})
