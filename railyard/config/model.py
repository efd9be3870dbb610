"""The stack config model: every key the program reads, with type, default and description.

The alias of each field is the full Pulumi key. Each key is declared here only: ``make
config-files`` renders the ``config:`` block of ``Pulumi.yaml`` and the key table of
docs/config.md from these fields (railyard/config/declarations.py). A field marked
``json_schema_extra={"secret": True}`` is a secret: never shown, and not declared in Pulumi.yaml.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

from pulumi_aws import Region as _AwsRegion
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from railyard import cache_rules, cidr, ipsec

PROJECT = "railyard"

AWS_REGIONS = frozenset(r.value for r in _AwsRegion)
# Alibaba Cloud region IDs (Alibaba Cloud "Regions and zones"; pulumi_alicloud ships no enum).
ALIBABA_REGIONS = frozenset(
    {
        "cn-qingdao",
        "cn-beijing",
        "cn-zhangjiakou",
        "cn-huhehaote",
        "cn-wulanchabu",
        "cn-hangzhou",
        "cn-shanghai",
        "cn-nanjing",
        "cn-fuzhou",
        "cn-wuhan-lr",
        "cn-shenzhen",
        "cn-heyuan",
        "cn-guangzhou",
        "cn-chengdu",
        "cn-hongkong",
        "ap-southeast-1",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ap-northeast-1",
        "ap-northeast-2",
        "us-west-1",
        "us-east-1",
        "eu-central-1",
        "eu-west-1",
        "me-east-1",
        "me-central-1",
        "na-south-1",
    }
)
# Digests recorded for these tags in public repositories (multi-arch indexes, checked with crane
# on 2026-08-11; docs/design.md: how digests are verified); re-verify before a first real deploy.
# One line each: Renovate's digest manager matches the whole reference.
ARGO_IMAGES = {
    "controller": "quay.io/argoproj/workflow-controller:v4.0.8@sha256:7a156419f80285859fc8f859927b6cc249f0d128e161e080dc17fca8fcbbceb6",  # noqa: E501
    "server": "quay.io/argoproj/argocli:v4.0.8@sha256:83e93aa9149a51da998c1df4abea7ae2c504e0b0a5892052dc092740f68323e8",  # noqa: E501
    "executor": "quay.io/argoproj/argoexec:v4.0.8@sha256:86a965d7eea176959351156e24f3a2fa8d8e342e477ef425009af95a12e3fe87",  # noqa: E501
    "kubectl": "registry.k8s.io/kubectl:v1.36.2@sha256:b0d792e0d8dfb9bb1b922b78b23137e2a34bb6f9667640353a9d2aadd1fd7761",  # noqa: E501
    # pinned for v1.9.1 by three unrelated public repositories; re-verify it as the multi-arch
    # index before a first real deploy
    "rollouts": "quay.io/argoproj/argo-rollouts:v1.9.1@sha256:15c0d41f2c69a382d4399bcb28ed4f03ee9f58b56cfc9e6cd55bcbf0f311c06d",  # noqa: E501
}
RFC1918 = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _json_list(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise ValueError(f"is not a list ({e.msg})") from None
    return value


def _cidr(value: Any) -> IPv4Network:
    if isinstance(value, IPv4Network):
        return value
    try:
        return cidr.network(str(value))
    except ValueError as e:
        raise ValueError(f"{value!r} is not an IPv4 CIDR ({e})") from None


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr)]
CidrList = Annotated[list[Cidr], BeforeValidator(_json_list)]
StrList = Annotated[list[str], BeforeValidator(_json_list)]


def full_key(name: str) -> str:
    return f"{PROJECT}:{name}"


class StackConfig(BaseModel):
    """Everything one stack (environment) of railyard is configured with."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    environment: str = Field(
        alias=full_key("environment"),
        pattern=r"^[a-z][a-z0-9-]{1,15}$",
        description="Environment name used in resource names and tags (e.g. dev, prod).",
        examples=["dev"],
    )
    aws_region: str = Field(
        alias="aws:region", description="AWS region of the control plane.", examples=["us-east-1"]
    )
    alibaba_region: str = Field(
        alias="alicloud:region",
        description="Alibaba Cloud region of the build farm and China CDN.",
        examples=["cn-hangzhou"],
    )

    # --- AWS network ---
    aws_vpc_cidr: Cidr = Field(
        alias=full_key("awsVpcCidr"), description="CIDR of the AWS VPC.", examples=["10.10.0.0/16"]
    )
    aws_availability_zones: StrList = Field(
        alias=full_key("awsAvailabilityZones"),
        min_length=2,
        max_length=cidr.MAX_PLANNED_ZONES,
        description="AWS availability zones to spread subnets over (2 to 6).",
        examples=[["us-east-1a", "us-east-1b"]],
    )
    aws_nat_gateways: Literal["single", "perAz"] = Field(
        default="perAz",
        alias=full_key("awsNatGateways"),
        description="NAT gateways: `single` (cheap, one AZ) or `perAz` (survives an AZ outage).",
        examples=["perAz"],
    )
    aws_private_subnet_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("awsPrivateSubnetCidrs"),
        description="Private subnet per AZ, in AZ order. Empty means planned from the VPC CIDR.",
        examples=[["10.10.0.0/19", "10.10.32.0/19"]],
    )
    aws_public_subnet_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("awsPublicSubnetCidrs"),
        description="Public subnet per AZ, in AZ order. Empty means planned from the VPC CIDR.",
        examples=[["10.10.224.0/22", "10.10.228.0/22"]],
    )
    eks_service_cidr: Cidr = Field(
        default=IPv4Network("172.20.0.0/16"),
        alias=full_key("eksServiceCidr"),
        description="Kubernetes service CIDR of the EKS cluster (reserved now, used by EKS).",
        examples=["172.20.0.0/16"],
    )

    # --- Alibaba network ---
    alibaba_vpc_cidr: Cidr = Field(
        alias=full_key("alibabaVpcCidr"),
        description="CIDR of the Alibaba Cloud VPC.",
        examples=["10.60.0.0/16"],
    )
    alibaba_zones: StrList = Field(
        alias=full_key("alibabaZones"),
        min_length=2,
        description="Alibaba zones for vSwitches; the first two carry the dual-tunnel VPN gateway.",
        examples=[["cn-hangzhou-i", "cn-hangzhou-j"]],
    )
    alibaba_vswitch_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("alibabaVswitchCidrs"),
        description="vSwitch CIDR per zone, in zone order. Empty means planned from the VPC CIDR.",
        examples=[["10.60.0.0/20", "10.60.16.0/20"]],
    )

    # --- VPN ---
    vpn_aws_asn: int = Field(
        default=64512,
        alias=full_key("vpnAwsAsn"),
        description="BGP ASN of the AWS side (the VPN gateway's amazon_side_asn).",
        examples=[64512],
    )
    vpn_alibaba_asn: int = Field(
        default=65010,
        alias=full_key("vpnAlibabaAsn"),
        description="BGP ASN of the Alibaba VPN gateway.",
        examples=[65010],
    )
    vpn_tunnel_inside_block: Cidr = Field(
        default=IPv4Network("169.254.100.0/28"),
        alias=full_key("vpnTunnelInsideBlock"),
        description="Link-local block the four tunnel /30s are allocated from.",
        examples=["169.254.100.0/28"],
    )
    vpn_tunnel_inside_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("vpnTunnelInsideCidrs"),
        description="Four tunnel inside /30s (conn 1 tunnels 1-2, conn 2 tunnels 1-2). "
        "Empty means allocated from vpnTunnelInsideBlock.",
        examples=[
            ["169.254.100.0/30", "169.254.100.4/30", "169.254.100.8/30", "169.254.100.12/30"]
        ],
    )
    vpn_phase1_lifetime_seconds: int = Field(
        default=28800,
        alias=full_key("vpnPhase1LifetimeSeconds"),
        description="IKE (phase 1) SA lifetime, 900-28800 s (the AWS maximum).",
        examples=[28800],
    )
    vpn_phase2_lifetime_seconds: int = Field(
        default=3600,
        alias=full_key("vpnPhase2LifetimeSeconds"),
        description="IPsec (phase 2) SA lifetime, 900-3600 s, below phase 1.",
        examples=[3600],
    )
    vpn_bandwidth_mbps: int = Field(
        default=10,
        alias=full_key("vpnBandwidthMbps"),
        description="Bandwidth of the Alibaba VPN gateway in Mbit/s.",
        examples=[10],
    )
    alibaba_vpn_payment_type: Literal["PayAsYouGo", "Subscription"] = Field(
        default="PayAsYouGo",
        alias=full_key("alibabaVpnPaymentType"),
        description="Billing of the Alibaba VPN gateway: PayAsYouGo (international-site "
        "accounts) or Subscription (China-site accounts must use it).",
        examples=["PayAsYouGo"],
    )
    vpn_pre_shared_keys: Annotated[list[SecretStr], BeforeValidator(_json_list)] | None = Field(
        default=None,
        alias=full_key("vpnPreSharedKeys"),
        description="Four tunnel PSKs, same order as the inside CIDRs. "
        "Unset: generated by the stack and kept as secrets.",
        json_schema_extra={"secret": True},
    )

    # --- Container images (ECR) ---
    ecr_repositories: StrList = Field(
        alias=full_key("ecrRepositories"),
        min_length=1,
        description="ECR repositories to create: backend services and the pipeline-steps image.",
        examples=[["railyard/steps", "backend/api"]],
    )
    ecr_release_tag_prefixes: StrList = Field(
        default_factory=lambda: ["dev_", "stage_", "prod_"],
        alias=full_key("ecrReleaseTagPrefixes"),
        description="Tag prefixes of release images; the newest ecrKeepReleaseImages are kept.",
        examples=[["dev_", "stage_", "prod_"]],
    )
    ecr_keep_release_images: int = Field(
        default=50,
        alias=full_key("ecrKeepReleaseImages"),
        description="Release images kept per repository; untagged images expire after a day.",
        examples=[50],
    )
    ecr_replication_destinations: StrList = Field(
        default_factory=list,
        alias=full_key("ecrReplicationDestinations"),
        description="Where images replicate: `region` (this account) or `account:region`.",
        examples=[["us-west-2"]],
    )

    # --- PWA delivery ---
    pwa_hashed_asset_paths: StrList = Field(
        default_factory=lambda: list(cache_rules.DEFAULT_HASHED_ASSET_PATHS),
        alias=full_key("pwaHashedAssetPaths"),
        description="Folders of content-hashed assets, cached for a year as immutable.",
        examples=[["/assets/*", "/static/*"]],
    )
    pwa_entrypoint_ttl_seconds: int = Field(
        default=0,
        alias=full_key("pwaEntrypointTtlSeconds"),
        description="Edge TTL of /sw.js, /index.html, /asset-manifest.json. Must be 0.",
        examples=[0],
    )
    pwa_hashed_asset_ttl_seconds: int = Field(
        default=cache_rules.ONE_YEAR,
        alias=full_key("pwaHashedAssetTtlSeconds"),
        description="Edge and browser TTL of hashed assets (at least a day).",
        examples=[31536000],
    )
    pwa_default_ttl_seconds: int = Field(
        default=cache_rules.DEFAULT_TTL_SECONDS,
        alias=full_key("pwaDefaultTtlSeconds"),
        description="Edge TTL of every other file (favicon, web manifest).",
        examples=[300],
    )
    pwa_keep_releases: int = Field(
        default=5,
        alias=full_key("pwaKeepReleases"),
        description="Older versions of each object kept in the buckets (rollback depth).",
        examples=[5],
    )
    pwa_spa_fallback: bool = Field(
        default=True,
        alias=full_key("pwaSpaFallback"),
        description="Serve /index.html for / and client-side routes on both CDNs.",
        examples=[True],
    )
    pwa_aws_domain: str = Field(
        default="",
        alias=full_key("pwaAwsDomain"),
        description="Custom domain of the CloudFront distribution. Empty: the default domain.",
        examples=["app.example.com"],
    )
    pwa_aws_certificate_arn: str = Field(
        default="",
        alias=full_key("pwaAwsCertificateArn"),
        description="ACM certificate (us-east-1) for pwaAwsDomain.",
        examples=[
            "arn:aws:acm:us-east-1:123456789012:certificate/0f6a4f1c-1111-2222-3333-444455556666"
        ],
    )
    pwa_china_domain: str = Field(
        default="",
        alias=full_key("pwaChinaDomain"),
        description="Domain of the Alibaba CDN in front of the OSS bucket. Empty: no CDN.",
        examples=["app.example.com.cn"],
    )
    pwa_china_certificate_id: str = Field(
        default="",
        alias=full_key("pwaChinaCertificateId"),
        description="Alibaba Certificate Service (CAS) certificate id; set: HTTPS only.",
        examples=["12345678"],
    )
    pwa_canary_max_lcp_ms: int = Field(
        default=2500,
        alias=full_key("pwaCanaryMaxLcpMs"),
        ge=100,
        le=60000,
        description="Largest Contentful Paint (ms) above which the PWA canary fails, and with "
        "it the release's PWA lane (web.dev's 'good' is 2500).",
        examples=[2500],
    )
    pwa_canary_max_cls: str = Field(
        default="0.1",
        alias=full_key("pwaCanaryMaxCls"),
        # a string: Pulumi's project config has no decimal type
        pattern=r"^[0-9](\.[0-9]{1,3})?$",
        description="Cumulative Layout Shift above which the PWA canary fails ('good': 0.1); "
        "a decimal from 0 to 9.999.",
        examples=["0.1"],
    )
    pwa_canary_max_load_ms: int = Field(
        default=8000,
        alias=full_key("pwaCanaryMaxLoadMs"),
        ge=100,
        le=60000,
        description="Time to the page's load event (ms) above which the PWA canary fails.",
        examples=[8000],
    )

    # --- Android build farm ---
    build_farm_image_id: str = Field(
        alias=full_key("buildFarmImageId"),
        min_length=1,
        description="Pinned ECS image of the build hosts.",
        examples=["ubuntu_22_04_x64_20G_alibase_20240926.vhd"],
    )
    build_farm_instance_types: StrList = Field(
        alias=full_key("buildFarmInstanceTypes"),
        min_length=1,
        max_length=10,  # ESS takes 1-10 launch template overrides
        description="ECS instance types, in preference order (1-10; more types: more spot pools).",
        examples=[["ecs.c7.2xlarge", "ecs.c6.2xlarge"]],
    )
    build_farm_min_size: int = Field(
        default=0,
        alias=full_key("buildFarmMinSize"),
        description="Fewest build hosts.",
        examples=[0],
    )
    build_farm_max_size: int = Field(
        default=4,
        alias=full_key("buildFarmMaxSize"),
        description="Most build hosts.",
        examples=[4],
    )
    build_farm_desired_size: int = Field(
        default=1,
        alias=full_key("buildFarmDesiredSize"),
        description="Build hosts to start with (between min and max).",
        examples=[1],
    )
    build_farm_on_demand_base: int = Field(
        default=0,
        alias=full_key("buildFarmOnDemandBase"),
        description="Hosts that are always on-demand; the rest are spot (prod: at least 1).",
        examples=[1],
    )
    build_farm_system_disk_gb: int = Field(
        default=200,
        alias=full_key("buildFarmSystemDiskGb"),
        description="System disk of a build host in GiB (Gradle caches, Android SDK).",
        examples=[200],
    )
    build_farm_ssh_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("buildFarmSshCidrs"),
        description="CIDRs allowed to SSH to build hosts. Empty (default): no SSH at all.",
        examples=[["10.10.0.0/16"]],
    )
    build_agent_port: int = Field(
        default=8443,
        alias=full_key("buildAgentPort"),
        description="Port of the build agent and of its internal load balancer.",
        examples=[8443],
    )
    build_agent_version: str = Field(
        alias=full_key("buildAgentVersion"),
        pattern=r"^\d+\.\d+\.\d+$",
        description="Pinned version of the build agent the hosts install.",
        examples=["0.1.0"],
    )
    build_agent_package_index: str = Field(
        alias=full_key("buildAgentPackageIndex"),
        pattern=r"^https://\S+$",
        description="Python package index (simple API) the hosts install railyard-runtime from.",
        examples=["https://packages.example.com/pypi/simple/"],
    )
    build_agent_android_repo: str = Field(
        alias=full_key("buildAgentAndroidRepo"),
        pattern=r"^(https://|ssh://|git@)\S+$",
        description="Git URL of the Android app; the agent fetches each commit from it.",
        examples=["https://git.example.com/mobile/android-app.git"],
    )
    steps_image_repository: str = Field(
        default="railyard/steps",
        alias=full_key("stepsImageRepository"),
        description="ECR repository (one of ecrRepositories) the pipeline-steps image goes to.",
        examples=["railyard/steps"],
    )
    apk_retention_days: int = Field(
        default=90,
        alias=full_key("apkRetentionDays"),
        description="Days APKs are kept in the APK bucket.",
        examples=[90],
    )
    alibaba_kms_instance_id: str = Field(
        default="",
        alias=full_key("alibabaKmsInstanceId"),
        description="Dedicated KMS instance for the agent token secret. Empty: shared KMS.",
        examples=["kst-hzz65f176a0ogplgq****"],
    )
    alibaba_oidc_fingerprints: StrList = Field(
        default_factory=list,
        alias=full_key("alibabaOidcFingerprints"),
        max_length=5,  # RAM keeps up to five per identity provider
        description="SHA-1 fingerprints (40 hex) of the EKS issuer's root CA that RAM pins "
        "(docs/keyless.md: how to read them). Empty: none pinned.",
        examples=[["<40 hex digits read with openssl, see docs/keyless.md>"]],
    )

    # --- EKS and Argo Workflows ---
    eks_version: str = Field(
        default="1.33",
        alias=full_key("eksVersion"),
        pattern=r"^1\.\d{2}$",
        description="Kubernetes minor version of the EKS cluster.",
        examples=["1.33"],
    )
    eks_admin_role_arns: StrList = Field(
        default_factory=list,
        alias=full_key("eksAdminRoleArns"),
        description="IAM roles given cluster-admin through EKS access entries.",
        examples=[["arn:aws:iam::123456789012:role/platform-admin"]],
    )
    eks_public_access_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("eksPublicAccessCidrs"),
        description="CIDRs allowed to the public API endpoint. Empty: private endpoint only "
        "(required in prod).",
        examples=[["203.0.113.0/24"]],
    )
    eks_api_client_cidrs: CidrList = Field(
        default_factory=list,
        alias=full_key("eksApiClientCidrs"),
        description="Networks inside the Alibaba VPC (the VPN carries its routes) admitted to "
        "the private API endpoint on 443, e.g. an operators' vSwitch.",
        examples=[["10.60.0.0/20"]],
    )
    eks_workflow_node_types: StrList = Field(
        default_factory=lambda: ["m6i.xlarge", "m5.xlarge"],
        alias=full_key("eksWorkflowNodeTypes"),
        min_length=1,
        description="Instance types of the tainted `workflows` node pool (EKS Auto Mode).",
        examples=[["m6i.xlarge", "m5.xlarge"]],
    )
    eks_workflow_pool_max_cpu: int = Field(
        default=24,
        alias=full_key("eksWorkflowPoolMaxCpu"),
        ge=1,
        le=2000,
        description="vCPUs of all `workflows` nodes together; the pool scales from none up to it.",
        examples=[24],
    )
    eks_workflow_pool_max_memory_gib: int = Field(
        default=96,
        alias=full_key("eksWorkflowPoolMaxMemoryGib"),
        ge=1,
        le=16000,
        description="Memory (GiB) of all `workflows` nodes together.",
        examples=[96],
    )
    deploy_runner_repository: str = Field(
        default="",
        alias=full_key("deployRunnerRepository"),
        pattern=r"^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?$",
        description="GitHub repository (owner/name) whose deploy jobs run on the in-VPC runner "
        "(CodeBuild). Empty: no runner (required in prod).",
        examples=["acme/railyard"],
    )
    deploy_runner_connection_arn: str = Field(
        default="",
        alias=full_key("deployRunnerConnectionArn"),
        pattern=r"^(arn:aws:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:"
        r"connection/[0-9a-f-]{36})?$",
        description="An AVAILABLE AWS CodeConnections GitHub connection the runner uses "
        "(created once per account, docs/deploy.md).",
        examples=[
            "arn:aws:codeconnections:us-east-1:123456789012:connection/"
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        ],
    )
    argo_workflows_chart_version: str = Field(
        default="1.0.13",
        alias=full_key("argoWorkflowsChartVersion"),
        pattern=r"^\d+\.\d+\.\d+$",
        description="argo-helm `argo-workflows` chart version (the images below override "
        "its appVersion).",
        examples=["1.0.13"],
    )
    argo_workflows_version: str = Field(
        default="v4.0.8",
        alias=full_key("argoWorkflowsVersion"),
        pattern=r"^v\d+\.\d+\.\d+$",
        description="Argo Workflows version: the CRDs applied and the tag of the images.",
        examples=["v4.0.8"],
    )
    argo_controller_image: str = Field(
        default=ARGO_IMAGES["controller"],
        alias=full_key("argoControllerImage"),
        description="workflow-controller image, pinned by digest.",
        examples=[ARGO_IMAGES["controller"]],
    )
    argo_server_image: str = Field(
        default=ARGO_IMAGES["server"],
        alias=full_key("argoServerImage"),
        description="argocli (Argo server) image, pinned by digest.",
        examples=[ARGO_IMAGES["server"]],
    )
    argo_executor_image: str = Field(
        default=ARGO_IMAGES["executor"],
        alias=full_key("argoExecutorImage"),
        description="argoexec image (every workflow pod runs it), pinned by digest.",
        examples=[ARGO_IMAGES["executor"]],
    )
    argo_rollouts_chart_version: str = Field(
        default="2.41.1",
        alias=full_key("argoRolloutsChartVersion"),
        pattern=r"^\d+\.\d+\.\d+$",
        description="argo-helm `argo-rollouts` chart version, installed when "
        "releaseBackendWorkload is a rollout/<name>.",
        examples=["2.41.1"],
    )
    argo_rollouts_image: str = Field(
        default=ARGO_IMAGES["rollouts"],
        alias=full_key("argoRolloutsImage"),
        description="Argo Rollouts controller image, pinned by digest.",
        examples=[ARGO_IMAGES["rollouts"]],
    )
    kubectl_image: str = Field(
        default=ARGO_IMAGES["kubectl"],
        alias=full_key("kubectlImage"),
        description="kubectl image of the backend lane, pinned by digest.",
        examples=[ARGO_IMAGES["kubectl"]],
    )
    argo_sso_issuer: str = Field(
        default="",
        alias=full_key("argoSsoIssuer"),
        pattern=r"^$|^https://\S+$",
        description="OIDC issuer people log in to the Argo UI with (single sign-on; required "
        "in prod). Empty: tokens only (`argo auth token`).",
        examples=["https://login.microsoftonline.com/<tenant>/v2.0"],
    )
    argo_sso_client_id: str = Field(
        default="",
        alias=full_key("argoSsoClientId"),
        pattern=r"^$|^\S{1,256}$",
        description="The OIDC client id registered for argo-server.",
        examples=["argo-workflows"],
    )
    argo_sso_client_secret: SecretStr | None = Field(
        default=None,
        alias=full_key("argoSsoClientSecret"),
        description="That client's secret. Set with "
        "`pulumi config set --secret argoSsoClientSecret`.",
        json_schema_extra={"secret": True},
    )
    argo_sso_redirect_url: str = Field(
        default="http://localhost:2746/oauth2/callback",
        alias=full_key("argoSsoRedirectUrl"),
        pattern=r"^(https://\S+|http://localhost(:[0-9]{1,5})?)/oauth2/callback$",
        description="Where the provider sends people back: argo-server's /oauth2/callback as "
        "the browser reaches it (default: through kubectl port-forward). Register it with the "
        "provider.",
        examples=["http://localhost:2746/oauth2/callback"],
    )
    argo_sso_read_only_groups: StrList = Field(
        default_factory=list,
        alias=full_key("argoSsoReadOnlyGroups"),
        description="Groups (the `groups` claim) that may read workflows, templates and logs.",
        examples=[["engineering"]],
    )
    argo_sso_release_manager_groups: StrList = Field(
        default_factory=list,
        alias=full_key("argoSsoReleaseManagerGroups"),
        description="Groups that may also submit, retry, stop, approve and delete workflows.",
        examples=[["release-managers"]],
    )
    argo_archive: Literal["auto", "on", "off"] = Field(
        default="auto",
        alias=full_key("argoArchive"),
        description="Keep finished Workflows in a PostgreSQL archive on RDS (the UI shows them "
        "after their TTL): on, off, or auto (on in prod, off elsewhere).",
        examples=["on"],
    )
    argo_archive_ttl: str = Field(
        default="90d",
        alias=full_key("argoArchiveTtl"),
        pattern=r"^[1-9][0-9]{0,4}[dhm]$",
        description="How long archived Workflows are kept, in days (d), hours (h) or minutes (m).",
        examples=["90d"],
    )
    argo_archive_instance_class: str = Field(
        default="db.t4g.micro",
        alias=full_key("argoArchiveInstanceClass"),
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
        description="RDS instance class of the archive's PostgreSQL.",
        examples=["db.t4g.small"],
    )
    argo_archive_storage_gib: int = Field(
        default=20,
        alias=full_key("argoArchiveStorageGib"),
        ge=20,
        le=65536,
        description="Archive storage in GiB (gp3: 20 to 65536).",
        examples=[20],
    )
    argo_parallelism: int = Field(
        default=20,
        alias=full_key("argoParallelism"),
        ge=1,
        description="Workflows the controller runs at once.",
        examples=[20],
    )

    # --- Release templates ---
    release_git_base_url: str = Field(
        alias=full_key("releaseGitBaseUrl"),
        pattern=r"^https://\S+/$",
        description="Prefix of every repository URL the workflows check out (ends in '/').",
        examples=["https://github.com/acme/"],
    )
    release_infra_repo: str = Field(
        default="infrastructure",
        alias=full_key("releaseInfraRepo"),
        pattern=r"^[A-Za-z0-9_.\-/]+$",
        description="Repository (under releaseGitBaseUrl) holding releases/*.yaml.",
        examples=["infrastructure"],
    )
    release_trigger_branch: str = Field(
        default="main",
        alias=full_key("releaseTriggerBranch"),
        pattern=r"^[A-Za-z0-9._\-/]{1,200}$",
        description="Branch whose GitHub pushes start releases (docs/triggers.md).",
        examples=["main"],
    )
    release_train_manifest: str = Field(
        default="",
        alias=full_key("releaseTrainManifest"),
        pattern=r"^$|^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*\.ya?ml$",
        description="The environment's release-train manifest in releaseInfraRepo; a push "
        "that adds or modifies it starts the train. Empty: releases/<environment>.yaml.",
        examples=["releases/prod.yaml"],
    )
    release_trigger_repositories: StrList = Field(
        default_factory=list,
        alias=full_key("releaseTriggerRepositories"),
        description="Application repositories (under releaseGitBaseUrl) whose pushes to "
        "releaseTriggerBranch start the unified release. Empty: none does.",
        examples=[["app"]],
    )
    release_card_pattern: str = Field(
        default="[A-Z]+-[0-9]+",
        alias=full_key("releaseCardPattern"),
        min_length=1,
        max_length=200,
        description="Regular expression (RE2) of a Kanban card id: the first word of a pushed "
        "head commit's message that matches it whole names the card the release moves.",
        examples=["[A-Z]+-[0-9]+"],
    )
    github_webhook_source_ranges: CidrList = Field(
        # the `hooks` list of https://api.github.com/meta (IPv4; GitHub sends no webhook over
        # IPv6), read 2026-12-02; refresh: curl -s https://api.github.com/meta | jq -c .hooks
        default_factory=lambda: [
            IPv4Network(n)
            for n in ("192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20")
        ],
        alias=full_key("githubWebhookSourceRanges"),
        min_length=1,
        description="The only addresses allowed to post to the webhook endpoint: GitHub's "
        "webhook source ranges (`hooks` of https://api.github.com/meta; docs/triggers.md).",
        examples=[["192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20"]],
    )
    release_backend_repo: str = Field(
        alias=full_key("releaseBackendRepo"),
        pattern=r"^[A-Za-z0-9_.\-/]+$",
        description="Repository of the backend's Kustomize overlays.",
        examples=["backend"],
    )
    release_backend_overlay: str = Field(
        alias=full_key("releaseBackendOverlay"),
        pattern=r"^[A-Za-z0-9_.\-/]+$",
        description="Overlay path in that repository (`kubectl apply -k`).",
        examples=["deploy/overlays/dev"],
    )
    release_backend_workload: str = Field(
        alias=full_key("releaseBackendWorkload"),
        pattern=r"^(deployment|rollout)/[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
        description="What the backend lane waits for: deployment/<name>, or rollout/<name> "
        "for an Argo Rollouts canary.",
        examples=["deployment/api"],
    )
    release_backend_namespace: str = Field(
        default="backend",
        alias=full_key("releaseBackendNamespace"),
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        description="Namespace of the backend (the workflows get `edit` there only); it "
        "enforces Pod Security `restricted` and denies ingress unless the overlay's "
        "NetworkPolicies admit it (docs/kubernetes.md).",
        examples=["backend"],
    )
    release_scan_images: StrList = Field(
        default_factory=list,
        alias=full_key("releaseScanImages"),
        description="ECR repositories (of ecrRepositories) whose image tagged with the "
        "release commit must pass the vulnerability gate.",
        examples=[["backend/api", "backend/worker"]],
    )
    release_block_severities: StrList = Field(
        default_factory=lambda: ["CRITICAL", "HIGH"],
        alias=full_key("releaseBlockSeverities"),
        min_length=1,
        description="ECR finding severities that block a release.",
        examples=[["CRITICAL", "HIGH"]],
    )
    release_code_scanning_repo: str = Field(
        alias=full_key("releaseCodeScanningRepo"),
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="GitHub <owner>/<name> whose code-scanning results gate the release.",
        examples=["acme/backend"],
    )
    release_requires_approval: bool = Field(
        default=False,
        alias=full_key("releaseRequiresApproval"),
        description="Pause for a manual approval (resume in the Argo UI or `argo resume`) "
        "before anything deploys.",
        examples=[True],
    )
    release_git_credentials_secret: str = Field(
        default="",
        alias=full_key("releaseGitCredentialsSecret"),
        description="Kubernetes Secret (keys username, password) for private repositories. "
        "Empty: public repositories.",
        examples=["railyard-git"],
    )
    github_webhook_token: SecretStr | None = Field(
        default=None,
        alias=full_key("githubWebhookToken"),
        description="GitHub token allowed to manage repository webhooks (admin:repo_hook, or a "
        "fine-grained token with Webhooks write): the stack then creates the push webhooks "
        "itself. Unset: paste githubWebhookUrl and githubWebhookSecret (docs/triggers.md). "
        "Set with `pulumi config set --secret githubWebhookToken`.",
        json_schema_extra={"secret": True},
    )
    github_token: SecretStr | None = Field(
        default=None,
        alias=full_key("githubToken"),
        description="GitHub token (security_events read) for the static-analysis gate. "
        "Set with `pulumi config set --secret githubToken`.",
        json_schema_extra={"secret": True},
    )

    # --- Kanban feed ---
    kanban_board: Literal["webhook", "github-projects", "jira"] = Field(
        default="webhook",
        alias=full_key("kanbanBoard"),
        description="Board the bridge moves cards on: webhook, github-projects or jira.",
        examples=["webhook"],
    )
    kanban_board_url: str = Field(
        alias=full_key("kanbanBoardUrl"),
        pattern=r"^https://\S+$",
        description="Webhook base URL (POST <url>/card/move), Jira base URL, or GitHub's "
        "GraphQL URL (https://api.github.com/graphql).",
        examples=["https://kanban.example.com"],
    )
    kanban_board_columns: StrList = Field(
        default_factory=list,
        alias=full_key("kanbanBoardColumns"),
        description="Column=target pairs: the GitHub status option id or Jira transition id of "
        "each board column (not used by the webhook).",
        examples=[["In release=opt1", "Backend live=opt2"]],
    )
    kanban_column_rules_file: str = Field(
        default="",
        alias=full_key("kanbanColumnRulesFile"),
        description="YAML file (relative to the project root) of board columns and the "
        "lane/phase/task rules that put a card in each. Empty: the unified release's columns.",
        examples=["kanban/columns.yaml"],
    )
    kanban_github_project_id: str = Field(
        default="",
        alias=full_key("kanbanGithubProjectId"),
        description="GitHub Projects (v2) project node id (PVT_...).",
        examples=["PVT_kwDOABCD"],
    )
    kanban_github_status_field_id: str = Field(
        default="",
        alias=full_key("kanbanGithubStatusFieldId"),
        description="Node id of the project's single-select status field (PVTSSF_...).",
        examples=["PVTSSF_lADOABCD"],
    )
    kanban_jira_email: str = Field(
        default="",
        alias=full_key("kanbanJiraEmail"),
        description="Jira account the API token belongs to.",
        examples=["release-bot@example.com"],
    )
    kanban_bridge_replicas: int = Field(
        default=2,
        alias=full_key("kanbanBridgeReplicas"),
        ge=1,
        le=10,
        description="Bridge pods (FIFO groups keep one feature's events in order across them).",
        examples=[2],
    )
    kanban_max_receives: int = Field(
        default=10,
        alias=full_key("kanbanMaxReceives"),
        ge=2,
        le=1000,
        description="Receives before SQS moves an event to the dead-letter queue.",
        examples=[10],
    )
    kanban_board_secret: SecretStr | None = Field(
        default=None,
        alias=full_key("kanbanBoardSecret"),
        description="The webhook's HMAC secret (generated when unset), or the GitHub / Jira "
        "API token. Set with `pulumi config set --secret kanbanBoardSecret`.",
        json_schema_extra={"secret": True},
    )

    @property
    def is_production(self) -> bool:
        """The `prod` environment: stricter rules (on-demand hosts, deletion protection)."""
        return self.environment == "prod"

    def tunnels(self) -> list[ipsec.TunnelPlan]:
        return ipsec.plan_tunnels(self.vpn_tunnel_inside_cidrs)

    def proposal(self) -> ipsec.IpsecProposal:
        return ipsec.IpsecProposal(
            phase1_lifetime_seconds=self.vpn_phase1_lifetime_seconds,
            phase2_lifetime_seconds=self.vpn_phase2_lifetime_seconds,
        )


# Keys the program reads: every alias of the model.
FIELDS_BY_KEY = {f.alias: (name, f) for name, f in StackConfig.model_fields.items()}
SECRET_KEYS = frozenset(
    k for k, (_, f) in FIELDS_BY_KEY.items() if (f.json_schema_extra or {}).get("secret")
)
