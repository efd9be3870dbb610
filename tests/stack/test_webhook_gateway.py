"""The internet reaches argo-server only on its events path, from GitHub's ranges."""

import json

import pytest

from components.argo_workflows import SERVER_NODE_PORT
from offline.runner import run_offline
from railyard.config import ConfigError

GATEWAY = "railyard:eks:WebhookGateway"
HOOKS = ["192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"]


def one(plan, type_token):
    return plan.one(type_token, under=GATEWAY)


def test_one_post_route_on_the_events_path_and_nothing_else(stack_plan):
    api = one(stack_plan, "aws:apigateway/restApi:RestApi")
    assert api.inputs["endpointConfiguration"] == {"types": "REGIONAL"}
    resources = {r.id: r for r in stack_plan.of_type("aws:apigateway/resource:Resource")}
    (method,) = stack_plan.of_type("aws:apigateway/method:Method")
    assert (method.inputs["httpMethod"], method.inputs["authorization"]) == ("POST", "NONE")
    path, node = [], resources[method.inputs["resourceId"]]
    while True:  # walk up to the API's root
        path.insert(0, node.inputs["pathPart"])
        if node.inputs["parentId"] == api.outputs["rootResourceId"]:
            break
        node = resources[node.inputs["parentId"]]
    assert "/" + "/".join(path) == "/api/v1/events/workflows/github"
    assert len(resources) == len(path)  # no other route exists


def test_the_route_reaches_argo_servers_node_port_through_a_vpc_link(stack_plan):
    integration = one(stack_plan, "aws:apigateway/integration:Integration")
    link = one(stack_plan, "aws:apigateway/vpcLink:VpcLink")
    nlb = one(stack_plan, "aws:lb/loadBalancer:LoadBalancer")
    assert integration.inputs["type"] == "HTTP_PROXY"
    assert integration.inputs["connectionType"] == "VPC_LINK"
    assert integration.inputs["connectionId"] == link.id
    assert integration.inputs["uri"] == (
        f"http://{nlb.outputs['dnsName']}:80/api/v1/events/workflows/github"
    )
    assert link.inputs["targetArn"] == nlb.outputs["arn"]
    assert nlb.inputs["internal"] is True and nlb.inputs["loadBalancerType"] == "network"
    private = [s.id for s in stack_plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name]
    assert sorted(nlb.inputs["subnets"]) == sorted(private)
    group = one(stack_plan, "aws:lb/targetGroup:TargetGroup")
    assert (group.inputs["port"], group.inputs["protocol"], group.inputs["targetType"]) == (
        SERVER_NODE_PORT,
        "TCP",
        "instance",
    )
    listener = one(stack_plan, "aws:lb/listener:Listener")
    assert listener.inputs["defaultActions"] == [
        {"type": "forward", "targetGroupArn": group.outputs["arn"]}
    ]
    attachment = one(stack_plan, "aws:autoscaling/attachment:Attachment")
    (system,) = [g for g in stack_plan.of_type("aws:eks/nodeGroup:NodeGroup")]
    asg = system.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    assert attachment.inputs == {
        "autoscalingGroupName": asg,
        "lbTargetGroupArn": group.outputs["arn"],
    }


def test_only_the_load_balancers_subnets_reach_the_node_port(stack_plan):
    cluster_sg = stack_plan.one("eks:index:Cluster").outputs["clusterSecurityGroupId"]
    rules = stack_plan.of_type(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", under=GATEWAY
    )
    private = sorted(
        s.inputs["cidrBlock"]
        for s in stack_plan.of_type("aws:ec2/subnet:Subnet")
        if "-private-" in s.name
    )
    assert sorted(r.inputs["cidrIpv4"] for r in rules) == private
    for r in rules:
        assert r.inputs["securityGroupId"] == cluster_sg
        assert (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == (
            "tcp",
            SERVER_NODE_PORT,
            SERVER_NODE_PORT,
        )
    (chart,) = stack_plan.of_type(
        "kubernetes:helm.sh/v3:Release", under="railyard:eks:ArgoWorkflows"
    )
    server = chart.inputs["values"]["server"]
    assert (server["serviceType"], server["serviceNodePort"], server["replicas"]) == (
        "NodePort",
        SERVER_NODE_PORT,
        2,
    )


def test_github_ranges_alone_may_invoke_and_the_stage_throttles(stack_plan):
    api = one(stack_plan, "aws:apigateway/restApi:RestApi")
    policy = json.loads(
        one(stack_plan, "aws:apigateway/restApiPolicy:RestApiPolicy").inputs["policy"]
    )
    allow, deny = policy["Statement"]
    resource = f"{api.outputs['executionArn']}/*"
    assert allow == {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": resource,
    }
    assert deny["Effect"] == "Deny" and deny["Resource"] == resource
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": HOOKS}}
    settings = one(stack_plan, "aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["throttlingRateLimit"] == 10 and settings["throttlingBurstLimit"] == 40
    deployment = one(stack_plan, "aws:apigateway/deployment:Deployment")
    nlb = one(stack_plan, "aws:lb/loadBalancer:LoadBalancer")
    # a new policy, route or load balancer is served only after a new deployment
    assert deployment.inputs["triggers"]["backend"] == nlb.outputs["dnsName"]
    assert "143.55.64.0/20" in deployment.inputs["triggers"]["route"]
    for needed in ("method:Method", "integration:Integration", "restApiPolicy:RestApiPolicy"):
        assert any(needed in d for d in deployment.dependencies), needed
    stage = one(stack_plan, "aws:apigateway/stage:Stage")
    assert stage.inputs["deployment"] == deployment.id
    assert stack_plan.outputs["githubWebhookUrl"] == (
        f"https://{api.id}.execute-api.us-east-1.amazonaws.com/github/api/v1/events/workflows/github"
    )


def test_the_source_ranges_come_from_config():
    plan = run_offline("dev", {"railyard:githubWebhookSourceRanges": ["203.0.113.0/24"]})
    policy = json.loads(plan.one("aws:apigateway/restApiPolicy:RestApiPolicy").inputs["policy"])
    assert policy["Statement"][1]["Condition"]["NotIpAddress"]["aws:SourceIp"] == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["0.0.0.0/0"], "admits every address"),
        ([], "githubWebhookSourceRanges"),
        (["github"], "githubWebhookSourceRanges"),
    ],
)
def test_bad_source_ranges_name_the_key(value, message):
    with pytest.raises(ConfigError) as raised:
        run_offline("dev", {"railyard:githubWebhookSourceRanges": value})
    assert "railyard:githubWebhookSourceRanges" in str(raised.value)
    assert message in str(raised.value)
