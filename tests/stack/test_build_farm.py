"""The Android build farm as the real program registers it for dev and prod."""

import base64
import json

from offline.runner import SECRET_MASK, run_offline
from tests.harness import by_id, plan_for, string_leaves

SG_RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
AGENT_PORT = 8443

FARM = "railyard:buildfarm:AndroidBuildFarm"


def farm_password(plan):
    farm = plan.one("railyard:buildfarm:AndroidBuildFarm")
    (token,) = [
        r for r in plan.children(farm) if r.type == "random:index/randomPassword:RandomPassword"
    ]
    return token


def test_no_ingress_from_anywhere_and_agent_port_only_from_the_aws_vpc(stack_plan):
    aws_cidr = stack_plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"]
    rules = [r.inputs for r in stack_plan.of_type(SG_RULE) if r.inputs["type"] == "ingress"]
    assert rules
    assert all(r["cidrIp"] != "0.0.0.0/0" for r in rules)
    agent = [r for r in rules if r["portRange"] == f"{AGENT_PORT}/{AGENT_PORT}"]
    assert [r["cidrIp"] for r in agent] == [aws_cidr]
    vswitch_cidrs = {
        s.inputs["cidrBlock"] for s in stack_plan.of_type("alicloud:vpc/switch:Switch")
    }
    health = [r for r in rules if r["portRange"] == f"{AGENT_PORT + 1}/{AGENT_PORT + 1}"]
    assert health and {r["cidrIp"] for r in health} <= vswitch_cidrs
    assert not [r for r in rules if r["portRange"] == "22/22"]  # no SSH unless configured


def test_ssh_only_from_configured_ranges():
    plan = run_offline("dev", {"railyard:buildFarmSshCidrs": ["10.10.0.0/16"]})
    ssh = [r.inputs for r in plan.of_type(SG_RULE) if r.inputs["portRange"] == "22/22"]
    assert [r["cidrIp"] for r in ssh] == ["10.10.0.0/16"]


def test_agent_load_balancer_is_internal_and_attached_to_the_scaling_group(stack_plan):
    nlb = stack_plan.one("alicloud:nlb/loadBalancer:LoadBalancer")
    assert nlb.inputs["addressType"] == "Intranet"
    switches = by_id(stack_plan, "alicloud:vpc/switch:Switch")
    zones = {switches[m["vswitchId"]].inputs["zoneId"] for m in nlb.inputs["zoneMappings"]}
    assert len(zones) == 2
    listener = stack_plan.one("alicloud:nlb/listener:Listener")
    servers = stack_plan.one("alicloud:nlb/serverGroup:ServerGroup")
    assert listener.inputs["loadBalancerId"] == nlb.id
    assert listener.inputs["serverGroupId"] == servers.id
    assert listener.inputs["listenerPort"] == AGENT_PORT
    assert servers.inputs["healthCheck"]["healthCheckEnabled"] is True
    group = stack_plan.one("alicloud:ess/scalingGroup:ScalingGroup")
    attachment = stack_plan.one("alicloud:ess/serverGroupAttachment:ServerGroupAttachment")
    assert attachment.inputs["scalingGroupId"] == group.id
    assert attachment.inputs["serverGroupId"] == servers.id
    assert attachment.inputs["type"] == "NLB" and attachment.inputs["port"] == AGENT_PORT
    assert stack_plan.outputs["buildAgentEndpoint"] == f"{nlb.outputs['dnsName']}:{AGENT_PORT}"


def test_scaling_group_spans_both_zones_spot_above_an_on_demand_base(stack_plan):
    group = stack_plan.one("alicloud:ess/scalingGroup:ScalingGroup").inputs
    assert len(group["vswitchIds"]) == 2
    expected = {"dev": (0, 2, 1, 0), "prod": (1, 8, 2, 1)}[stack_plan.stack]
    actual = (
        group["minSize"],
        group["maxSize"],
        group["desiredCapacity"],
        group["onDemandBaseCapacity"],
    )
    assert actual == expected
    assert group["onDemandPercentageAboveBaseCapacity"] == 0
    # hosts spread over both zones: az_balance acts only under COMPOSABLE (ESS CreateScalingGroup)
    assert (group["multiAzPolicy"], group["azBalance"]) == ("COMPOSABLE", True)
    # COST_OPTIMIZED-only settings would be ignored, or refused, under COMPOSABLE
    assert "compensateWithOnDemand" not in group
    hook = stack_plan.one("alicloud:ess/lifecycleHook:LifecycleHook").inputs
    assert hook["lifecycleTransition"] == "SCALE_IN" and hook["defaultResult"] == "CONTINUE"


def user_data(plan) -> str:
    template = plan.one("alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate")
    return base64.b64decode(template.inputs["userData"]).decode()


def test_hosts_run_the_pinned_image_privately_with_their_role(stack_plan):
    template = stack_plan.one("alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate").inputs
    assert template["imageId"] == "ubuntu_22_04_x64_20G_alibase_20240926.vhd"
    assert template["internetMaxBandwidthOut"] == 0
    assert template["spotStrategy"] == "SpotAsPriceGo"
    assert template["systemDisk"]["encrypted"] is True
    assert (
        template["ramRoleName"]
        == stack_plan.one("alicloud:ram/role:Role", under=FARM).inputs["roleName"]
    )
    sg = stack_plan.one("alicloud:ecs/securityGroup:SecurityGroup")
    assert template["securityGroupIds"] == [sg.id]
    assert "railyard-runtime==0.1.0" in user_data(stack_plan)
    assert "RAILYARD_AGENT_TOKEN_KMS_SECRET=railyard-" in user_data(stack_plan)


def test_hosts_answer_metadata_over_imdsv2_only(stack_plan):
    template = stack_plan.one("alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate")
    assert template.inputs["httpTokens"] == "required"
    # ESS scaling configurations cannot require IMDSv2; the group launches from the template
    assert not stack_plan.of_type("alicloud:ess/scalingConfiguration:ScalingConfiguration")
    group = stack_plan.one("alicloud:ess/scalingGroup:ScalingGroup")
    assert group.inputs["launchTemplateId"] == template.id
    assert group.inputs["launchTemplateVersion"] == "Latest"
    types = [o["instanceType"] for o in group.inputs["launchTemplateOverrides"]]
    assert types[0] == template.inputs["instanceType"] and len(types) == len(set(types)) >= 2


def test_ram_policy_is_limited_to_the_apk_bucket_and_the_token_secret(stack_plan):
    apk_bucket = stack_plan.outputs["apkBucket"]
    document = json.loads(
        stack_plan.one("alicloud:ram/policy:Policy", under=FARM).inputs["policyDocument"]
    )
    oss, kms = document["Statement"]
    assert oss["Resource"] == [f"acs:oss:*:*:{apk_bucket}/apks/*"]
    assert all(a.startswith("oss:") and "*" not in a for a in oss["Action"])
    secret = stack_plan.one("alicloud:kms/secret:Secret").inputs["secretName"]
    assert kms["Action"] == ["kms:GetSecretValue"]
    assert kms["Resource"] == [f"acs:kms:cn-hangzhou:*:secret/{secret}"]
    trust = json.loads(
        stack_plan.one("alicloud:ram/role:Role", under=FARM).inputs["assumeRolePolicyDocument"]
    )
    assert trust["Statement"][0]["Principal"] == {"Service": ["ecs.aliyuncs.com"]}
    attachment = stack_plan.one(
        "alicloud:ram/rolePolicyAttachment:RolePolicyAttachment", under=FARM
    ).inputs
    assert attachment["policyType"] == "Custom"


def test_agent_token_is_secret_everywhere(stack_plan):
    token = farm_password(stack_plan).outputs["result"]
    assert len(token) == 48
    secret = stack_plan.one("alicloud:kms/secret:Secret")
    assert secret.is_secret("secretData") and secret.inputs["secretData"] == token
    assert "secretData" in secret.additional_secret_outputs
    for r in stack_plan.resources:
        for path, value in string_leaves(r.inputs):
            if token in value:
                assert r.is_secret(path), f"{r.type} {r.name}: token in plaintext at {path}"
    assert stack_plan.outputs["buildAgentToken"] == SECRET_MASK
    # the hosts get it from KMS, never through user data (secret or not: Alibaba shows it)
    template = stack_plan.one("alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate")
    assert token not in user_data(stack_plan) and not template.is_secret("userData")


def test_hosts_reach_the_internet_through_the_nat_only(stack_plan):
    nat = stack_plan.one("alicloud:vpc/natGateway:NatGateway")
    snats = stack_plan.of_type("alicloud:vpc/snatEntry:SnatEntry")
    switches = {s.id for s in stack_plan.of_type("alicloud:vpc/switch:Switch")}
    assert {s.inputs["sourceVswitchId"] for s in snats} == switches
    assert {s.inputs["snatTableId"] for s in snats} == {nat.outputs["snatTableIds"]}


def test_prod_protects_the_scaling_group():
    group = plan_for("prod").one("alicloud:ess/scalingGroup:ScalingGroup").inputs
    assert group["groupDeletionProtection"] is True


def test_load_balancer_is_attached_to_the_group_launched_from_the_template(stack_plan):
    group = stack_plan.one("alicloud:ess/scalingGroup:ScalingGroup")
    template = stack_plan.one("alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate")
    attachment = stack_plan.one("alicloud:ess/serverGroupAttachment:ServerGroupAttachment")
    assert attachment.property_dependencies["scalingGroupId"] == [group.urn]
    assert group.property_dependencies["launchTemplateId"] == [template.urn]


def test_a_new_agent_token_gets_a_new_kms_version(stack_plan):
    """The KMS API refuses a value under a version id it already holds."""
    from components.build_farm import _version_of

    secret = stack_plan.one("alicloud:kms/secret:Secret")
    (token,) = [
        p
        for p in stack_plan.of_type("random:index/randomPassword:RandomPassword")
        if p.name.endswith("-agent-token")
    ]
    assert secret.inputs["versionId"] == _version_of(token.outputs["result"])
    assert _version_of("a" * 48) == _version_of("a" * 48) != _version_of("b" * 48)


def test_release_steps_send_the_agent_token_only_into_the_farms_vswitches(stack_plan):
    (env,) = [
        c
        for c in stack_plan.of_type("kubernetes:core/v1:ConfigMap")
        if c.inputs["metadata"]["name"] == "railyard-release-env"
    ]
    group = stack_plan.one("alicloud:ess/scalingGroup:ScalingGroup").inputs
    farm_vswitches = {
        s.inputs["cidrBlock"]
        for s in stack_plan.of_type("alicloud:vpc/switch:Switch")
        if s.id in group["vswitchIds"]
    }
    assert set(env.inputs["data"]["RAILYARD_AGENT_NETWORK"].split(",")) == farm_vswitches
