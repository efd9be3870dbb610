"""The railyard stack program: read and validate config, then compose the components.

``main`` is what both ``pulumi up`` and the offline plan run. Each ``_area`` function wires
one area's components and exports what other tools need; resources live in ``components/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
import pulumi_github as github
from pulumi.runtime import config as runtime_config

import railyard_runtime
from components.alibaba_network import AlibabaNetwork, AlibabaNetworkArgs
from components.argo_rollouts import ArgoRollouts, ArgoRolloutsArgs
from components.argo_sso import ArgoSsoArgs
from components.argo_workflows import (
    ARGO_NAMESPACE,
    SERVER_ACCOUNT,
    SERVER_NODE_PORT,
    ArgoWorkflows,
    ArgoWorkflowsArgs,
)
from components.aws_network import AwsNetwork, AwsNetworkArgs
from components.build_farm import AndroidBuildFarm, AndroidBuildFarmArgs
from components.container_registry import ContainerRegistry, ContainerRegistryArgs
from components.deploy_runner import DeployRunner, DeployRunnerArgs
from components.eks_cluster import EksCluster, EksClusterArgs, system_pool, workflow_pool
from components.github_webhooks import GithubWebhooks, GithubWebhooksArgs
from components.hybrid_vpn import HybridVpn, HybridVpnArgs
from components.kanban_feed import KanbanFeed, KanbanFeedArgs
from components.pwa_aws import PwaAwsSite, PwaAwsSiteArgs
from components.pwa_canary import PwaCanary, PwaCanaryArgs
from components.pwa_china import PwaChinaSite, PwaChinaSiteArgs
from components.release_dashboard import ReleaseDashboard, ReleaseDashboardArgs
from components.release_pipeline import ReleasePipeline, ReleasePipelineArgs, ReleaseTargets
from components.release_triggers import ReleaseTriggers, ReleaseTriggersArgs
from components.steps_image import StepsImage, StepsImageArgs
from components.webhook_gateway import WebhookGateway, WebhookGatewayArgs
from components.workflow_archive import WorkflowArchiveArgs
from railyard import cache_rules
from railyard import config as stack_config
from railyard.config import StackConfig, provider_keys, release_checks
from railyard.release_templates.common import ReleaseSettings
from railyard.release_templates.triggers import TriggerSettings, events_path
from railyard_runtime.kanban.board_config import (
    BoardConfig,
    GitHubProjectsConfig,
    JiraConfig,
    WebhookConfig,
)

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"


def read_config() -> StackConfig:
    """Validate the stack's config, or stop the program with every problem before any resource."""
    # Every railyard key present (to catch typos), plus the keys of the model from any source
    # the SDK knows (the engine's config, PULUMI_CONFIG_* environment variables).
    # Provider keys too: a provider ignores a key it does not know (`aws:regoin`).
    namespaces = (stack_config.PROJECT, *provider_keys.NAMESPACES)
    raw = {
        k.replace(":config:", ":", 1): v
        for k, v in runtime_config.CONFIG.get().items()
        if k.split(":", 1)[0] in namespaces
    }
    raw |= {
        key: value
        for key in stack_config.FIELDS_BY_KEY
        if (value := runtime_config.get_config(key)) is not None
    }
    secret_keys = [k for k in raw if runtime_config.is_config_secret(k)]
    try:
        return stack_config.load(raw, secret_keys)
    except stack_config.ConfigError as e:
        raise pulumi.RunError(str(e)) from e


WORKFLOWS_NAMESPACE = "workflows"
WORKFLOW_SERVICE_ACCOUNT = "railyard-release"


@dataclass
class Delivery:
    registry: ContainerRegistry
    pwa: PwaAwsSite
    pwa_cn: PwaChinaSite
    steps: StepsImage


@dataclass
class Context:
    cfg: StackConfig
    prefix: str
    tags: dict[str, str]
    aws_provider: aws.Provider
    alibaba_provider: alicloud.Provider

    # A component gets its providers through its options; its children inherit them by package.
    @property
    def on_aws(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.aws_provider])

    @property
    def on_alibaba(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.alibaba_provider])

    @property
    def on_both(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.aws_provider, self.alibaba_provider])


def _context(cfg: StackConfig) -> Context:
    tags = {"Project": "railyard", "Environment": cfg.environment, "ManagedBy": "pulumi"}
    # Explicit providers: region from config, tags on every AWS resource, no implicit defaults.
    return Context(
        cfg=cfg,
        prefix=f"railyard-{cfg.environment}",
        tags=tags,
        aws_provider=aws.Provider(
            "aws", region=cfg.aws_region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags)
        ),
        alibaba_provider=alicloud.Provider("alicloud", region=cfg.alibaba_region),
    )


def _networks(c: Context) -> tuple[AwsNetwork, AlibabaNetwork]:
    cfg = c.cfg
    aws_net = AwsNetwork(
        f"{c.prefix}-aws",
        AwsNetworkArgs(
            vpc_cidr=str(cfg.aws_vpc_cidr),
            availability_zones=cfg.aws_availability_zones,
            private_subnet_cidrs=[str(n) for n in cfg.aws_private_subnet_cidrs],
            public_subnet_cidrs=[str(n) for n in cfg.aws_public_subnet_cidrs],
            nat_gateways=cfg.aws_nat_gateways,
        ),
        opts=c.on_aws,
    )
    alibaba_net = AlibabaNetwork(
        f"{c.prefix}-alibaba",
        AlibabaNetworkArgs(
            vpc_cidr=str(cfg.alibaba_vpc_cidr),
            zones=cfg.alibaba_zones,
            vswitch_cidrs=[str(n) for n in cfg.alibaba_vswitch_cidrs],
            tags=c.tags,
        ),
        opts=c.on_alibaba,
    )
    pulumi.export("awsVpcId", aws_net.vpc_id)
    pulumi.export("awsPrivateSubnetIds", aws_net.private_subnet_ids)
    pulumi.export("awsPublicSubnetIds", aws_net.public_subnet_ids)
    pulumi.export("alibabaVpcId", alibaba_net.vpc_id)
    pulumi.export("alibabaVswitchIds", alibaba_net.vswitch_ids)
    return aws_net, alibaba_net


def _vpn(c: Context, aws_net: AwsNetwork, alibaba_net: AlibabaNetwork) -> None:
    cfg = c.cfg
    psks = cfg.vpn_pre_shared_keys
    vpn = HybridVpn(
        f"{c.prefix}-vpn",
        HybridVpnArgs(
            aws_vpc_id=aws_net.vpc_id,
            aws_route_table_ids=aws_net.route_table_ids,
            alibaba_vpc_id=alibaba_net.vpc_id,
            alibaba_vswitch_ids=alibaba_net.vswitch_ids[:2],
            aws_asn=cfg.vpn_aws_asn,
            alibaba_asn=cfg.vpn_alibaba_asn,
            tunnels=cfg.tunnels(),
            proposal=cfg.proposal(),
            pre_shared_keys=[k.get_secret_value() for k in psks] if psks is not None else None,
            bandwidth_mbps=cfg.vpn_bandwidth_mbps,
            payment_type=cfg.alibaba_vpn_payment_type,
            alibaba_tags=c.tags,
        ),
        opts=c.on_both,
    )
    pulumi.export("vpnTunnels", vpn.tunnels)
    pulumi.export("vpnAsns", {"aws": cfg.vpn_aws_asn, "alibaba": cfg.vpn_alibaba_asn})


def _delivery(c: Context) -> Delivery:
    cfg = c.cfg
    registry = ContainerRegistry(
        f"{c.prefix}-images",
        ContainerRegistryArgs(
            repositories=cfg.ecr_repositories,
            release_tag_prefixes=cfg.ecr_release_tag_prefixes,
            keep_release_images=cfg.ecr_keep_release_images,
            replication_destinations=cfg.ecr_replication_destinations,
        ),
        opts=c.on_aws,
    )
    rules = cache_rules.pwa_cache_rules(
        cfg.pwa_hashed_asset_paths,
        cfg.pwa_hashed_asset_ttl_seconds,
        cfg.pwa_entrypoint_ttl_seconds,
    )
    pwa = PwaAwsSite(
        f"{c.prefix}-pwa",
        PwaAwsSiteArgs(
            rules=rules,
            default_rule=cache_rules.default_rule(cfg.pwa_default_ttl_seconds),
            keep_releases=cfg.pwa_keep_releases,
            spa_fallback=cfg.pwa_spa_fallback,
            domain=cfg.pwa_aws_domain,
            certificate_arn=cfg.pwa_aws_certificate_arn,
        ),
        opts=c.on_aws,
    )
    pwa_cn = PwaChinaSite(
        f"{c.prefix}-pwa-cn",
        PwaChinaSiteArgs(
            bucket_prefix=f"{c.prefix}-pwa",
            rules=rules,
            domain=cfg.pwa_china_domain,
            certificate_id=cfg.pwa_china_certificate_id,
            spa_fallback=cfg.pwa_spa_fallback,
            tags=c.tags,
        ),
        opts=c.on_alibaba,
    )
    steps = StepsImage(
        f"{c.prefix}-steps",
        StepsImageArgs(
            repository_url=registry.repository_urls[cfg.steps_image_repository],
            registry_id=registry.registry_id,
            context_dir=RUNTIME_DIR,
            version=railyard_runtime.__version__,
        ),
        opts=c.on_aws,
    )
    pulumi.export("ecrRepositoryUrls", registry.repository_urls)
    pulumi.export("stepsImage", steps.image_ref)
    pulumi.export(
        "pwa",
        {
            "s3Bucket": pwa.bucket_name,
            "cloudfrontDistributionId": pwa.distribution_id,
            "url": pwa.url,
            "ossBucket": pwa_cn.bucket_name,
            "alibabaCdnDomain": pwa_cn.cdn_domain,
            "alibabaCdnCname": pwa_cn.cdn_cname,
        },
    )
    return Delivery(registry, pwa, pwa_cn, steps)


def _build_farm(c: Context, aws_net: AwsNetwork, alibaba_net: AlibabaNetwork) -> AndroidBuildFarm:
    cfg = c.cfg
    farm = AndroidBuildFarm(
        f"{c.prefix}-android",
        AndroidBuildFarmArgs(
            vpc_id=alibaba_net.vpc_id,
            vswitch_ids=alibaba_net.vswitch_ids[:2],
            zones=cfg.alibaba_zones[:2],
            vswitch_cidrs=[str(n) for n in cfg.alibaba_vswitch_cidrs[:2]],
            aws_vpc_cidr=aws_net.vpc_cidr,
            region=cfg.alibaba_region,
            image_id=cfg.build_farm_image_id,
            instance_types=cfg.build_farm_instance_types,
            min_size=cfg.build_farm_min_size,
            max_size=cfg.build_farm_max_size,
            desired_size=cfg.build_farm_desired_size,
            on_demand_base=cfg.build_farm_on_demand_base,
            agent_version=cfg.build_agent_version,
            agent_port=cfg.build_agent_port,
            agent_package_index=cfg.build_agent_package_index,
            android_repo=cfg.build_agent_android_repo,
            system_disk_gb=cfg.build_farm_system_disk_gb,
            ssh_cidrs=[str(n) for n in cfg.build_farm_ssh_cidrs],
            apk_retention_days=cfg.apk_retention_days,
            kms_instance_id=cfg.alibaba_kms_instance_id,
            deletion_protection=cfg.is_production,
            tags=c.tags,
        ),
        opts=c.on_alibaba,
    )
    pulumi.export("buildAgentEndpoint", farm.agent_endpoint)
    pulumi.export("buildAgentToken", farm.agent_token)
    pulumi.export("apkBucket", farm.apk_bucket)
    return farm


def _control_plane(c: Context, aws_net: AwsNetwork, d: Delivery, farm: AndroidBuildFarm) -> None:
    """EKS, Argo Workflows, and the release templates with what they need."""
    cfg = c.cfg
    cluster = EksCluster(
        f"{c.prefix}-eks",
        EksClusterArgs(
            version=cfg.eks_version,
            vpc_id=aws_net.vpc_id,
            private_subnet_ids=aws_net.private_subnet_ids,
            public_subnet_ids=aws_net.public_subnet_ids,
            service_cidr=str(cfg.eks_service_cidr),
            admin_role_arns=cfg.eks_admin_role_arns,
            public_access_cidrs=[str(n) for n in cfg.eks_public_access_cidrs],
            system_pool=system_pool(),
            workflow_pool=workflow_pool(
                cfg.eks_workflow_node_types,
                cfg.eks_workflow_pool_max_cpu,
                cfg.eks_workflow_pool_max_memory_gib,
                spot=not cfg.is_production,
            ),
            api_client_cidrs=[str(n) for n in cfg.eks_api_client_cidrs],
            deletion_protection=cfg.is_production,
            tags=c.tags,
        ),
        opts=c.on_aws,
    )
    _deploy_runner(c, aws_net, cluster)
    settings = release_settings(cfg)
    argo = ArgoWorkflows(
        f"{c.prefix}-argo",
        ArgoWorkflowsArgs(
            chart_version=cfg.argo_workflows_chart_version,
            app_version=cfg.argo_workflows_version,
            controller_image=cfg.argo_controller_image,
            server_image=cfg.argo_server_image,
            executor_image=cfg.argo_executor_image,
            workflows_namespace=settings.namespace,
            default_service_account=settings.service_account,
            region=cfg.aws_region,
            parallelism=cfg.argo_parallelism,
            events_cidrs=[str(n) for n in cfg.aws_private_subnet_cidrs],
            archive=_archive(c, aws_net, cluster),
            sso=_sso(cfg),
        ),
        opts=pulumi.ResourceOptions(providers=[c.aws_provider, cluster.provider]),
    )
    rollouts = (
        [
            ArgoRollouts(
                f"{c.prefix}-rollouts",
                ArgoRolloutsArgs(cfg.argo_rollouts_chart_version, cfg.argo_rollouts_image),
                opts=pulumi.ResourceOptions(providers=[cluster.provider]),
            ).release
        ]
        if cfg.release_backend_workload.startswith("rollout/")
        else []
    )
    feed = _kanban_feed(c, cluster, d.steps.image_ref)
    canary = _delivery_checks(c, d, feed)
    release = ReleasePipeline(
        f"{c.prefix}-release",
        ReleasePipelineArgs(
            settings=settings,
            steps_image=d.steps.image_ref,
            targets=ReleaseTargets(
                pwa_bucket=d.pwa.bucket_name,
                cloudfront_id=d.pwa.distribution_id,
                cloudfront_url=d.pwa.url,
                oss_bucket=d.pwa_cn.bucket_name,
                alibaba_cdn_url=f"https://{cfg.pwa_china_domain}" if cfg.pwa_china_domain else "",
                alibaba_cdn_domain=cfg.pwa_china_domain,
                apk_bucket=farm.apk_bucket,
                ecr_registry_url=d.registry.registry_id.apply(
                    lambda account: f"{account}.dkr.ecr.{cfg.aws_region}.amazonaws.com"
                ),
                agent_endpoint=farm.agent_endpoint,
                agent_token=farm.agent_token,
                # the farm's vSwitches: a job host elsewhere never gets the token
                agent_networks=[str(n) for n in cfg.alibaba_vswitch_cidrs[:2]],
                artifact_bucket=argo.artifact_bucket.name,
                ecr_registry_id=d.registry.registry_id,
                ecr_repositories=cfg.ecr_repositories,
            ),
            aws_region=cfg.aws_region,
            alibaba_region=cfg.alibaba_region,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            workflows_namespace=argo.namespace,
            crds=[*argo.crds, *rollouts],
            events_queue_url=feed.queue_url,
            events_queue_arn=feed.queue_arn,
            events_table_name=feed.events_table_name,
            events_table_arn=feed.events_table_arn,
            canary_name=canary.name,
            canary_arn=canary.arn,
            github_token=cfg.github_token.get_secret_value() if cfg.github_token else None,
            alibaba_oidc_fingerprints=cfg.alibaba_oidc_fingerprints,
        ),
        opts=pulumi.ResourceOptions(
            providers=[c.aws_provider, c.alibaba_provider, cluster.provider]
        ),
    )
    _merge_trigger(c, aws_net, cluster, argo, release, settings)
    pulumi.export("eksClusterName", cluster.name)
    pulumi.export("argoNamespace", argo.namespace)
    pulumi.export("argoArtifactBucket", argo.artifact_bucket.name)
    pulumi.export("eventsQueueUrl", feed.queue_url)
    pulumi.export("kanbanCardsTable", feed.table_name)
    pulumi.export("eventsTable", feed.events_table_name)
    pulumi.export("releaseTemplates", release.template_names)


def _delivery_checks(c: Context, d: Delivery, feed: KanbanFeed) -> PwaCanary:
    """The PWA canary (the release's post-deploy gate) and the release dashboard."""
    cfg = c.cfg
    canary = PwaCanary(
        c.prefix,
        PwaCanaryArgs(
            url=d.pwa.url,
            env=cfg.environment,
            max_lcp_ms=cfg.pwa_canary_max_lcp_ms,
            max_cls=cfg.pwa_canary_max_cls,
            max_load_ms=cfg.pwa_canary_max_load_ms,
        ),
        opts=c.on_aws,
    )
    dashboard = ReleaseDashboard(
        f"{c.prefix}-delivery",
        ReleaseDashboardArgs(
            env=cfg.environment,
            region=cfg.aws_region,
            queue_name=feed.queue_name,
            dlq_name=feed.dlq_name,
            canary_name=canary.name,
        ),
        opts=c.on_aws,
    )
    pulumi.export("pwaCanary", canary.name)
    pulumi.export("releaseDashboardUrl", dashboard.url)
    return canary


def _merge_trigger(
    c: Context,
    aws_net: AwsNetwork,
    cluster: EksCluster,
    argo: ArgoWorkflows,
    release: ReleasePipeline,
    settings: ReleaseSettings,
) -> None:
    """GitHub pushes start releases: the bindings and webhook client, the one way in for
    GitHub (API Gateway), and, given a token, the webhooks on GitHub itself."""
    cfg = c.cfg
    hooks = ReleaseTriggers(
        f"{c.prefix}-triggers",
        ReleaseTriggersArgs(
            settings=settings,
            triggers=trigger_settings(cfg),
            workflows_namespace=argo.namespace,
            server_account=(ARGO_NAMESPACE, SERVER_ACCOUNT),
            templates=release.templates,
            crds=argo.crds,
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.provider]),
    )
    gateway = WebhookGateway(
        f"{c.prefix}-webhooks",
        WebhookGatewayArgs(
            events_path=events_path(settings.namespace),
            source_ranges=[str(n) for n in cfg.github_webhook_source_ranges],
            vpc_id=aws_net.vpc_id,
            private_subnet_ids=aws_net.private_subnet_ids,
            private_subnet_cidrs=[str(n) for n in cfg.aws_private_subnet_cidrs],
            node_port=SERVER_NODE_PORT,
            node_security_group_id=cluster.cluster_security_group_id,
            system_autoscaling_group=cluster.system_autoscaling_group,
            tags=c.tags,
        ),
        opts=c.on_aws,
    )
    if cfg.github_webhook_token is not None:
        owner = release_checks.github_owner(cfg)
        provider = github.Provider(
            f"{c.prefix}-github",
            owner=owner,
            token=pulumi.Output.secret(cfg.github_webhook_token.get_secret_value()),
        )
        GithubWebhooks(
            f"{c.prefix}-webhooks",
            GithubWebhooksArgs(
                repositories=[cfg.release_infra_repo, *cfg.release_trigger_repositories],
                url=gateway.url,
                secret=hooks.webhook_secret,
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
    pulumi.export("githubWebhookUrl", gateway.url)
    pulumi.export("githubWebhookPath", hooks.webhook_path)
    pulumi.export("githubWebhookSecret", hooks.webhook_secret)


def _deploy_runner(c: Context, aws_net: AwsNetwork, cluster: EksCluster) -> None:
    """The runner that runs this stack's preview and deploy jobs next to its private API."""
    cfg = c.cfg
    if not cfg.deploy_runner_repository:
        return
    runner = DeployRunner(
        f"{c.prefix}-deploy",
        DeployRunnerArgs(
            project_name=f"{c.prefix}-deploy",
            repository=cfg.deploy_runner_repository,
            connection_arn=cfg.deploy_runner_connection_arn,
            vpc_id=aws_net.vpc_id,
            subnet_ids=aws_net.private_subnet_ids,
            region=cfg.aws_region,
        ),
        opts=c.on_aws,
    )
    cluster.admit_api_client("deploy-runner", runner.security_group_id)
    pulumi.export("deployRunner", {"project": runner.project_name, "runsOn": runner.runs_on})


def _kanban_feed(c: Context, cluster: EksCluster, steps_image: pulumi.Output[str]) -> KanbanFeed:
    cfg = c.cfg
    secret = cfg.kanban_board_secret
    feed = KanbanFeed(
        f"{c.prefix}-kanban",
        KanbanFeedArgs(
            board=cfg.kanban_board,
            board_config=board_config(cfg),
            board_secret=pulumi.Output.secret(secret.get_secret_value()) if secret else None,
            column_rules=(
                release_checks.column_rules(cfg).model_dump(by_alias=True, mode="json")
                if cfg.kanban_column_rules_file
                else None  # the bridge's own defaults
            ),
            steps_image=steps_image,
            aws_region=cfg.aws_region,
            replicas=cfg.kanban_bridge_replicas,
            max_receives=cfg.kanban_max_receives,
            scrape_cidrs=[str(cfg.aws_vpc_cidr)],
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            deletion_protection=cfg.is_production,
        ),
        opts=pulumi.ResourceOptions(providers=[c.aws_provider, cluster.provider]),
    )
    pulumi.export("kanbanBoardSecret", feed.board_secret)  # the webhook verifies with it
    return feed


def board_config(cfg: StackConfig) -> BoardConfig:
    """The configured board's settings, as the bridge's own model of its board config file."""
    targets = release_checks.board_targets(cfg)
    if cfg.kanban_board == "github-projects":
        return GitHubProjectsConfig(
            url=cfg.kanban_board_url,
            project_id=cfg.kanban_github_project_id,
            status_field_id=cfg.kanban_github_status_field_id,
            options=targets,
        )
    if cfg.kanban_board == "jira":
        return JiraConfig(
            base_url=cfg.kanban_board_url, email=cfg.kanban_jira_email, transitions=targets
        )
    return WebhookConfig(url=cfg.kanban_board_url)


def release_settings(cfg: StackConfig) -> ReleaseSettings:
    """The templates' settings from config; the steps image is filled in once it is pushed."""
    return ReleaseSettings(
        env=cfg.environment,
        namespace=WORKFLOWS_NAMESPACE,
        service_account=WORKFLOW_SERVICE_ACCOUNT,
        steps_image="",
        kubectl_image=cfg.kubectl_image,
        git_base_url=cfg.release_git_base_url,
        infra_repo=cfg.release_infra_repo,
        backend_repo=cfg.release_backend_repo,
        backend_overlay=cfg.release_backend_overlay,
        backend_workload=cfg.release_backend_workload,
        backend_namespace=cfg.release_backend_namespace,
        scan_images=tuple(cfg.release_scan_images),
        block_severities=tuple(cfg.release_block_severities),
        code_scanning_repo=cfg.release_code_scanning_repo,
        requires_approval=cfg.release_requires_approval,
        pwa_hashed_paths=tuple(cfg.pwa_hashed_asset_paths),
        git_credentials_secret=cfg.release_git_credentials_secret,
    )


def _archive(c: Context, aws_net: AwsNetwork, cluster: EksCluster) -> WorkflowArchiveArgs | None:
    """The workflow archive's database, when the environment keeps one (prod by default)."""
    cfg = c.cfg
    wanted = cfg.is_production if cfg.argo_archive == "auto" else cfg.argo_archive == "on"
    if not wanted:
        return None
    return WorkflowArchiveArgs(
        namespace=ARGO_NAMESPACE,
        vpc_id=aws_net.vpc_id,
        private_subnet_ids=aws_net.private_subnet_ids,
        cluster_security_group_id=cluster.cluster_security_group_id,
        instance_class=cfg.argo_archive_instance_class,
        storage_gib=cfg.argo_archive_storage_gib,
        ttl=cfg.argo_archive_ttl,
        production=cfg.is_production,
        tags=c.tags,
    )


def _sso(cfg: StackConfig) -> ArgoSsoArgs | None:
    """Single sign-on to the Argo UI, when an issuer is configured (always in prod)."""
    if not cfg.argo_sso_issuer or cfg.argo_sso_client_secret is None:
        return None
    return ArgoSsoArgs(
        issuer=cfg.argo_sso_issuer,
        client_id=cfg.argo_sso_client_id,
        client_secret=pulumi.Output.secret(cfg.argo_sso_client_secret.get_secret_value()),
        redirect_url=cfg.argo_sso_redirect_url,
        read_only_groups=cfg.argo_sso_read_only_groups,
        release_manager_groups=cfg.argo_sso_release_manager_groups,
        # ArgoWorkflows puts in its namespaces' outputs (the Secret and accounts wait for them)
        server_namespace=ARGO_NAMESPACE,
        workflows_namespace=WORKFLOWS_NAMESPACE,
    )


def trigger_settings(cfg: StackConfig) -> TriggerSettings:
    """What a GitHub push must look like to start a release of this environment."""
    return TriggerSettings(
        branch=cfg.release_trigger_branch,
        manifest=cfg.release_train_manifest or f"releases/{cfg.environment}.yaml",
        app_repositories=tuple(cfg.release_trigger_repositories),
        card_pattern=cfg.release_card_pattern,
    )


def build(cfg: StackConfig) -> None:
    """Register every resource of one environment and export what other tools need."""
    c = _context(cfg)
    aws_net, alibaba_net = _networks(c)
    _vpn(c, aws_net, alibaba_net)
    delivery = _delivery(c)
    farm = _build_farm(c, aws_net, alibaba_net)
    _control_plane(c, aws_net, delivery, farm)


def main() -> None:
    build(read_config())
