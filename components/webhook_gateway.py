"""The one door from the internet into the cluster: GitHub's webhooks to argo-server's events API.

A regional REST API in API Gateway (AWS's certificate, so GitHub and browsers trust it; nothing
to build or pin) defines a single route, ``POST /api/v1/events/<namespace>/github``; any other
method or path is answered by API Gateway itself. Its resource policy admits only GitHub's
webhook source ranges, and the stage throttles. Behind it, a VPC link reaches an internal
Network Load Balancer, which forwards to argo-server's NodePort on the system node group: the
rest of argo-server is reachable only inside the VPC.

REST rather than HTTP APIs: only REST APIs take a resource policy (source-IP conditions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

STAGE = "github"
THROTTLE_RATE = 10
"""Requests per second the route accepts on average (GitHub sends one per push)."""
THROTTLE_BURST = 40
LISTENER_PORT = 80


@dataclass
class WebhookGatewayArgs:
    events_path: str
    """The path GitHub posts to, e.g. /api/v1/events/workflows/github."""
    source_ranges: list[str]
    """GitHub's webhook source ranges (the ``hooks`` list of https://api.github.com/meta)."""
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]
    private_subnet_cidrs: list[str]
    node_port: int
    """argo-server's NodePort on the system nodes."""
    node_security_group_id: pulumi.Input[str]
    system_autoscaling_group: pulumi.Input[str]
    tags: dict[str, str]


class WebhookGateway(pulumi.ComponentResource):
    """API Gateway, VPC link and internal NLB in front of argo-server; ``opts`` brings the AWS
    provider."""

    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebhookGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:eks:WebhookGateway", name, None, opts)
        nlb = self._load_balancer(name, args)
        link = aws.apigateway.VpcLink(
            f"{name}-link",
            name=f"{name}-link",
            target_arn=nlb.arn,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=f"{name}-github-webhooks",
            description="GitHub webhooks to argo-server's events API",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            disable_execute_api_endpoint=False,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.apigateway.RestApiPolicy(
            f"{name}-policy",
            rest_api_id=api.id,
            policy=api.execution_arn.apply(lambda arn: source_policy(arn, args.source_ranges)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        method, integration = self._route(name, args, api, link, nlb)
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            # a changed route, backend or policy needs a new deployment to take effect
            triggers={
                "route": json.dumps([args.events_path, args.source_ranges, args.node_port]),
                "backend": nlb.dns_name,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[method, integration, policy]),
        )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=STAGE,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.apigateway.MethodSettings(
            f"{name}-throttle",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=THROTTLE_RATE,
                throttling_burst_limit=THROTTLE_BURST,
                metrics_enabled=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.url = pulumi.Output.concat(stage.invoke_url, args.events_path)
        self.register_outputs({"url": self.url})

    def _load_balancer(self, name: str, args: WebhookGatewayArgs) -> aws.lb.LoadBalancer:
        """Internal NLB → argo-server's NodePort on the system node group's instances."""
        child = pulumi.ResourceOptions(parent=self)
        nlb = aws.lb.LoadBalancer(
            f"{name}-nlb",
            internal=True,
            load_balancer_type="network",
            subnets=args.private_subnet_ids,
            enable_cross_zone_load_balancing=True,
            tags=args.tags,
            opts=child,
        )
        targets = aws.lb.TargetGroup(
            f"{name}-argo-server",
            port=args.node_port,
            protocol="TCP",
            target_type="instance",
            vpc_id=args.vpc_id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                protocol="TCP", healthy_threshold=2, unhealthy_threshold=2, interval=10
            ),
            tags=args.tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=nlb.arn,
            port=LISTENER_PORT,
            protocol="TCP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=targets.arn)
            ],
            opts=child,
        )
        aws.autoscaling.Attachment(
            f"{name}-system-nodes",
            autoscaling_group_name=args.system_autoscaling_group,
            lb_target_group_arn=targets.arn,
            opts=child,
        )
        # the NLB (its own addresses, and the VPC link's through it) reaches the NodePort
        for i, cidr in enumerate(args.private_subnet_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-node-port-{i + 1}",
                security_group_id=args.node_security_group_id,
                ip_protocol="tcp",
                from_port=args.node_port,
                to_port=args.node_port,
                cidr_ipv4=cidr,
                description="argo-server's events API from the webhook load balancer",
                opts=child,
            )
        return nlb

    def _route(self, name, args: WebhookGatewayArgs, api, link, nlb):
        """``POST <events_path>`` and nothing else, proxied to argo-server as it came."""
        parent_id = api.root_resource_id
        for i, part in enumerate(args.events_path.strip("/").split("/")):
            resource = aws.apigateway.Resource(
                f"{name}-path-{i + 1}",
                rest_api=api.id,
                parent_id=parent_id,
                path_part=part,
                opts=pulumi.ResourceOptions(parent=self),
            )
            parent_id = resource.id
        method = aws.apigateway.Method(
            f"{name}-post",
            rest_api=api.id,
            resource_id=resource.id,
            http_method="POST",
            # GitHub signs each body; argo-server checks the signature (X-Hub-Signature-256)
            authorization="NONE",
            opts=pulumi.ResourceOptions(parent=self),
        )
        integration = aws.apigateway.Integration(
            f"{name}-argo-server",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="HTTP_PROXY",
            integration_http_method="POST",
            connection_type="VPC_LINK",
            connection_id=link.id,
            uri=pulumi.Output.concat(
                "http://", nlb.dns_name, f":{LISTENER_PORT}", args.events_path
            ),
            timeout_milliseconds=29000,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return method, integration


def source_policy(execution_arn: str, source_ranges: list[str]) -> str:
    """Invoke only from ``source_ranges``: an explicit deny for every other address."""
    resource = f"{execution_arn}/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": resource,
                },
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": resource,
                    "Condition": {"NotIpAddress": {"aws:SourceIp": source_ranges}},
                },
            ],
        }
    )
