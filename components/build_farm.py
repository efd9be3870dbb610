"""The Android build farm on Alibaba Cloud: an ESS scaling group behind an internal NLB.

Hosts come and go (scaling, spot reclaim), so the pipeline never talks to a host directly:
it submits through the internal load balancer, whose private address is a stack output, and
follows the job on the host that accepted it (the runtime issue). Hosts get the agent token
from KMS through their RAM role; the token is never in user data.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_random as random

from components.storage import PrivateOssBucket, PrivateOssBucketArgs
from railyard.cloud_init import BuildHostSettings, health_port_for, render

APK_PREFIX = "apks/"


@dataclass
class AndroidBuildFarmArgs:
    vpc_id: pulumi.Input[str]
    """The Alibaba VPC."""
    vswitch_ids: Sequence[pulumi.Input[str]]
    """Two vSwitches (two zones) for hosts and the load balancer."""
    zones: Sequence[str]
    """The zones of ``vswitch_ids``, same order."""
    vswitch_cidrs: Sequence[str]
    """CIDRs of ``vswitch_ids``: where the load balancer's health checks come from."""
    aws_vpc_cidr: str
    """The only network allowed to reach the agent port (over the VPN)."""
    region: str
    """Alibaba region (for the RAM policy and the agent's KMS client)."""
    image_id: str
    """Pinned ECS image."""
    instance_types: Sequence[str]
    """Instance types, in preference order."""
    min_size: int
    max_size: int
    desired_size: int
    on_demand_base: int
    """Hosts that are always on-demand; above them, spot."""
    agent_version: str
    """Pinned build agent version the hosts install."""
    agent_package_index: str
    """Python package index the hosts install ``railyard-runtime==agent_version`` from."""
    android_repo: str
    """Git URL of the Android app the agents build."""
    agent_port: int = 8443
    system_disk_gb: int = 200
    ssh_cidrs: Sequence[str] = ()
    """Who may SSH in; empty: nobody (no rule at all)."""
    apk_retention_days: int = 90
    kms_instance_id: str = ""
    """Dedicated KMS instance for the token secret; empty: shared KMS."""
    deletion_protection: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class AndroidBuildFarm(pulumi.ComponentResource):
    agent_endpoint: pulumi.Output[str]
    agent_token: pulumi.Output[str]
    apk_bucket: pulumi.Output[str]
    scaling_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AndroidBuildFarmArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:buildfarm:AndroidBuildFarm", name, None, opts)
        tags = dict(args.tags)
        # by name, not by output: the hosts' cloud-init refers to both
        token_secret_name = f"{name}-agent-token"
        host_role_name = f"{name}-host"
        apks = PrivateOssBucket(
            f"{name}-apks",
            PrivateOssBucketArgs(
                name_prefix=name, expire_after_days=args.apk_retention_days, tags=tags
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        token = self._agent_token(name, args, token_secret_name, tags)
        role = self._instances_role(name, args, host_role_name, token_secret_name, apks.name)
        security_group = self._security_group(name, args, tags)
        nlb, servers = self._agent_load_balancer(name, args, tags)
        user_data = _user_data(args, apks.name, token_secret_name, host_role_name)
        group = self._scaling_group(name, args, tags, security_group, role, user_data, servers)

        self.agent_endpoint = pulumi.Output.concat(nlb.dns_name, ":", str(args.agent_port))
        self.agent_token = pulumi.Output.secret(token.result)
        self.apk_bucket = apks.name
        self.scaling_group_id = group.id
        self.register_outputs(
            {
                "agent_endpoint": self.agent_endpoint,
                "agent_token": self.agent_token,
                "apk_bucket": self.apk_bucket,
                "scaling_group_id": self.scaling_group_id,
            }
        )

    def _agent_token(
        self, name: str, args: AndroidBuildFarmArgs, secret_name: str, tags: dict[str, str]
    ) -> random.RandomPassword:
        """The agents' bearer token: generated, kept secret, handed to hosts through KMS."""
        token = random.RandomPassword(
            f"{name}-agent-token",
            length=48,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        alicloud.kms.Secret(
            f"{name}-agent-token",
            secret_name=secret_name,
            secret_data=pulumi.Output.secret(token.result),
            # a new value needs a new version id (the API refuses to reuse one)
            version_id=token.result.apply(_version_of),
            description="Bearer token of the railyard build agents",
            dkms_instance_id=args.kms_instance_id or None,
            recovery_window_in_days=7,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret_data"]),
        )
        return token

    def _instances_role(
        self,
        name: str,
        args: AndroidBuildFarmArgs,
        role_name: str,
        token_secret_name: str,
        apk_bucket: pulumi.Output[str],
    ) -> alicloud.ram.Role:
        """Who the hosts are: a RAM role that may only write APKs and read the agent token."""
        child = pulumi.ResourceOptions(parent=self)
        role = alicloud.ram.Role(
            f"{name}-host",
            role_name=role_name,
            assume_role_policy_document=json.dumps(
                {
                    "Version": "1",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": ["ecs.aliyuncs.com"]},
                        }
                    ],
                }
            ),
            description="railyard Android build hosts",
            opts=child,
        )
        policy = alicloud.ram.Policy(
            f"{name}-host",
            policy_name=f"{name}-host",
            policy_document=apk_bucket.apply(
                lambda bucket: host_policy(bucket, args.region, token_secret_name)
            ),
            description="Write APKs under apks/ of the APK bucket; read the agent token",
            opts=child,
        )
        alicloud.ram.RolePolicyAttachment(
            f"{name}-host",
            role_name=role.role_name,
            policy_name=policy.policy_name,
            policy_type="Custom",
            opts=child,
        )
        return role

    def _security_group(
        self, name: str, args: AndroidBuildFarmArgs, tags: dict[str, str]
    ) -> alicloud.ecs.SecurityGroup:
        """The agent port only from AWS (over the VPN), health checks from the NLB, SSH if any."""
        child = pulumi.ResourceOptions(parent=self)
        group = alicloud.ecs.SecurityGroup(
            f"{name}-hosts",
            security_group_name=f"{name}-hosts",
            vpc_id=args.vpc_id,
            inner_access_policy="Drop",
            description="railyard build hosts",
            tags=tags,
            opts=child,
        )
        health_port = health_port_for(args.agent_port)
        ingress = [("agent-from-aws", args.agent_port, args.aws_vpc_cidr)]
        ingress += [(f"health-{i + 1}", health_port, c) for i, c in enumerate(args.vswitch_cidrs)]
        ingress += [(f"ssh-{i + 1}", 22, c) for i, c in enumerate(args.ssh_cidrs)]
        for rule_name, port, cidr in ingress:
            alicloud.ecs.SecurityGroupRule(
                f"{name}-{rule_name}",
                security_group_id=group.id,
                type="ingress",
                ip_protocol="tcp",
                port_range=f"{port}/{port}",
                cidr_ip=cidr,
                policy="accept",
                nic_type="intranet",
                description=rule_name,
                opts=child,
            )
        return group

    def _agent_load_balancer(
        self, name: str, args: AndroidBuildFarmArgs, tags: dict[str, str]
    ) -> tuple[alicloud.nlb.LoadBalancer, alicloud.nlb.ServerGroup]:
        """The internal NLB the pipeline talks to, and the server group the hosts join."""
        child = pulumi.ResourceOptions(parent=self)
        nlb = alicloud.nlb.LoadBalancer(
            f"{name}-agents",
            load_balancer_name=f"{name}-agents",
            load_balancer_type="Network",
            address_type="Intranet",
            address_ip_version="Ipv4",
            vpc_id=args.vpc_id,
            cross_zone_enabled=True,
            zone_mappings=[
                alicloud.nlb.LoadBalancerZoneMappingArgs(vswitch_id=v, zone_id=z)
                for v, z in zip(args.vswitch_ids, args.zones, strict=True)
            ],
            tags=tags,
            opts=child,
        )
        servers = alicloud.nlb.ServerGroup(
            f"{name}-agents",
            server_group_name=f"{name}-agents",
            server_group_type="Instance",
            vpc_id=args.vpc_id,
            protocol="TCP",
            scheduler="Wrr",
            preserve_client_ip_enabled=True,  # the security group sees the AWS source
            connection_drain_enabled=True,
            connection_drain_timeout=300,
            health_check=alicloud.nlb.ServerGroupHealthCheckArgs(
                health_check_enabled=True,
                health_check_type="HTTP",
                health_check_connect_port=health_port_for(args.agent_port),
                health_check_url="/healthz",
                health_check_domain="$SERVER_IP",
                http_check_method="GET",
                health_check_http_codes=["http_2xx"],
                health_check_interval=5,
                health_check_connect_timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=2,
            ),
            tags=tags,
            opts=child,
        )
        alicloud.nlb.Listener(
            f"{name}-agents",
            load_balancer_id=nlb.id,
            server_group_id=servers.id,
            listener_protocol="TCP",
            listener_port=args.agent_port,
            listener_description="railyard build agents",
            idle_timeout=900,  # long polls wait up to minutes
            opts=child,
        )
        return nlb, servers

    def _scaling_group(
        self,
        name: str,
        args: AndroidBuildFarmArgs,
        tags: dict[str, str],
        security_group: alicloud.ecs.SecurityGroup,
        role: alicloud.ram.Role,
        user_data: pulumi.Output[str],
        servers: alicloud.nlb.ServerGroup,
    ) -> alicloud.ess.ScalingGroup:
        """The hosts: spot above an on-demand base, across both zones, drained on scale-in."""
        child = pulumi.ResourceOptions(parent=self)
        # A launch template, not an ESS scaling configuration: only a template can require
        # IMDSv2 (http_tokens), which the policy pack demands of every host.
        template = alicloud.ecs.EcsLaunchTemplate(
            f"{name}-hosts",
            launch_template_name=f"{name}-hosts",
            description="railyard Android build hosts",
            image_id=args.image_id,
            instance_type=args.instance_types[0],
            instance_charge_type="PostPaid",
            spot_strategy="SpotAsPriceGo",
            security_group_ids=[security_group.id],
            ram_role_name=role.role_name,
            user_data=user_data.apply(_base64),  # the launch template API takes Base64
            internet_max_bandwidth_out=0,  # no public IP; egress through the VPC NAT
            network_type="vpc",
            http_endpoint="enabled",
            http_tokens="required",  # IMDSv2 only (the API takes optional | required)
            system_disk=alicloud.ecs.EcsLaunchTemplateSystemDiskArgs(
                category="cloud_essd",
                size=args.system_disk_gb,
                encrypted=True,
                delete_with_instance=True,
            ),
            template_tags=tags,
            tags=tags,
            opts=child,
        )
        group = alicloud.ess.ScalingGroup(
            f"{name}-hosts",
            scaling_group_name=f"{name}-hosts",
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_size,
            vswitch_ids=list(args.vswitch_ids),
            launch_template_id=template.id,
            launch_template_version="Latest",
            # every instance type the group may launch, in preference order
            launch_template_overrides=[
                alicloud.ess.ScalingGroupLaunchTemplateOverrideArgs(instance_type=t)
                for t in args.instance_types
            ],
            # COMPOSABLE: the only policy under which az_balance spreads hosts over the zones
            # (COST_OPTIMIZED ignores it); it still takes the on-demand base and spot pools.
            multi_az_policy="COMPOSABLE",
            az_balance=True,
            allocation_strategy="priority",  # on-demand: the instance types in config order
            spot_allocation_strategy="lowestPrice",
            on_demand_base_capacity=args.on_demand_base,
            on_demand_percentage_above_base_capacity=0,
            spot_instance_pools=min(len(args.instance_types), 10),
            spot_instance_remedy=True,  # replace a spot host before it is reclaimed
            default_cooldown=300,
            removal_policies=["OldestScalingConfiguration", "OldestInstance"],
            group_deletion_protection=args.deletion_protection,
            tags=tags,
            opts=child,
        )
        alicloud.ess.ServerGroupAttachment(
            f"{name}-agents",
            scaling_group_id=group.id,
            server_group_id=servers.id,
            port=args.agent_port,
            type="NLB",
            weight=100,
            force_attach=True,
            # a group launched from a template is enabled on creation (ESS attaches load
            # balancers to an active group only)
            opts=child,
        )
        # Scale-in waits: the host leaves the load balancer at once (no new jobs) and running
        # builds get up to an hour to finish before the instance goes.
        alicloud.ess.LifecycleHook(
            f"{name}-drain",
            scaling_group_id=group.id,
            name=f"{name}-drain",
            lifecycle_transition="SCALE_IN",
            heartbeat_timeout=3600,
            default_result="CONTINUE",
            opts=child,
        )
        return group


def _user_data(
    args: AndroidBuildFarmArgs,
    apk_bucket: pulumi.Output[str],
    token_secret_name: str,
    role_name: str,
) -> pulumi.Output[str]:
    """The hosts' cloud-init: the pinned agent and where its token is, never the token."""
    return apk_bucket.apply(
        lambda bucket: render(
            BuildHostSettings(
                agent_version=args.agent_version,
                agent_port=args.agent_port,
                token_secret_name=token_secret_name,
                region=args.region,
                apk_bucket=bucket,
                ram_role=role_name,
                package_index=args.agent_package_index,
                android_repo=args.android_repo,
            )
        )
    )


def host_policy(bucket: str, region: str, token_secret_name: str) -> str:
    """RAM policy of the build hosts: APK objects under one prefix, one KMS secret."""
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "oss:PutObject",
                        "oss:GetObject",
                        "oss:AbortMultipartUpload",
                        "oss:ListParts",
                    ],
                    "Resource": [f"acs:oss:*:*:{bucket}/{APK_PREFIX}*"],
                },
                {
                    "Effect": "Allow",
                    "Action": ["kms:GetSecretValue"],
                    "Resource": [f"acs:kms:{region}:*:secret/{token_secret_name}"],
                },
            ],
        },
        sort_keys=True,
    )


def _version_of(value: str) -> str:
    return "v-" + hashlib.sha256(value.encode()).hexdigest()[:16]


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
