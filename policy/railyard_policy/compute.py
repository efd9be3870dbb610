"""Hosts: instance metadata only through IMDSv2 (AWS EC2, EKS nodes, Alibaba ECS); the EKS API
endpoint not public in production stacks."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from railyard_policy.support import current_stack, get, resource_policy

AWS_METADATA = ("aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate")
ALIBABA_METADATA = (
    "alicloud:ecs/instance:Instance",
    "alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate",
    "alicloud:ecs/launchTemplate:LaunchTemplate",
)
ESS_CONFIGURATION = "alicloud:ess/scalingConfiguration:ScalingConfiguration"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_COMPONENT_CLUSTER = "eks:index:Cluster"
PRODUCTION_STACKS = "productionStacks"
DEFAULT_PRODUCTION_STACKS = ["prod"]


def check_imdsv2(args: ResourceValidationArgs) -> Iterator[str]:
    t, props = args.resource_type, args.props
    if t in AWS_METADATA:
        if get(props, "metadataOptions", "httpEndpoint") == "disabled":
            return
        if get(props, "metadataOptions", "httpTokens") != "required":
            yield "metadataOptions.httpTokens must be 'required' (IMDSv2 only)"
    elif t in ALIBABA_METADATA:
        if get(props, "httpEndpoint") == "disabled":
            return
        # The ECS API takes optional | required; anything else never launches.
        if get(props, "httpTokens") != "required":
            yield "httpTokens must be 'required' (IMDSv2 only; the API takes optional | required)"
    elif t == ESS_CONFIGURATION and get(props, "httpEndpoint") != "disabled":
        yield (
            "an ESS scaling configuration cannot require IMDSv2 (the provider has no httpTokens); "
            "launch the scaling group from an EcsLaunchTemplate with httpTokens='required'"
        )
    elif t == EKS_NODE_GROUP and not get(props, "launchTemplate"):
        yield "launchTemplate is not set: use a launch template whose httpTokens is 'required'"
    elif t == EKS_MANAGED_NODE_GROUP and not (
        get(props, "enableIMDSv2") is True or get(props, "launchTemplate")
    ):
        yield "set enableIMDSv2=true (or a launch template whose httpTokens is 'required')"
    elif t == EKS_COMPONENT_CLUSTER and get(props, "skipDefaultNodeGroup") is not True:
        yield (
            "the default node group allows IMDSv1: set skipDefaultNodeGroup=true and add "
            "ManagedNodeGroups with enableIMDSv2=true"
        )


def check_eks_endpoint(args: ResourceValidationArgs) -> Iterator[str]:
    production = args.get_config().get(PRODUCTION_STACKS, DEFAULT_PRODUCTION_STACKS)
    if current_stack() not in (production or ()):
        return
    # Both default to a public endpoint when unset.
    field = {
        EKS_CLUSTER: "vpcConfig.endpointPublicAccess",
        EKS_COMPONENT_CLUSTER: "endpointPublicAccess",
    }
    path = field.get(args.resource_type)
    if path and get(args.props, *path.split("."), default=True) is not False:
        yield f"{path} must be false in a production stack"


IMDS_POLICY = resource_policy(
    "imdsv2-required",
    "EC2 instances, launch templates, EKS node groups and Alibaba ECS hosts require IMDSv2.",
    check_imdsv2,
)
EKS_ENDPOINT_POLICY = resource_policy(
    "eks-endpoint-private-in-production",
    "The EKS API endpoint is not reachable from the internet in production stacks.",
    check_eks_endpoint,
    config={
        PRODUCTION_STACKS: {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_PRODUCTION_STACKS,
            "description": "Stacks in which the EKS endpoint must be private.",
        }
    },
)
