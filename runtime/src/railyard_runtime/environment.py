"""The environment variables and files through which the stack configures the runtime.

One name, one place: the runtime reads each setting by its member here and the stack writes it
by the same member (the release ConfigMap, the bridge's Deployment, the build hosts' cloud-init),
so neither side spells a name of its own. Grouped by the process that reads them; a name two
processes read is in both groups.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath


class StepsEnv(StrEnum):
    """Read by ``railyard-steps``; in release pods the stack sets what it knows of them in the
    release ConfigMap (the token files are mounted and passed as options)."""

    ALIBABA_REGION = "RAILYARD_ALIBABA_REGION"
    """Alibaba region of the OSS buckets and the Alibaba CDN."""
    OSS_ENDPOINT = "RAILYARD_OSS_ENDPOINT"
    """OSS S3-compatible endpoint; unset: the region's public one."""
    PWA_S3_BUCKET = "RAILYARD_PWA_S3_BUCKET"
    """The PWA's S3 bucket (stack output pwa.s3Bucket)."""
    PWA_CLOUDFRONT_ID = "RAILYARD_PWA_CLOUDFRONT_ID"
    """The PWA's CloudFront distribution id."""
    PWA_CLOUDFRONT_URL = "RAILYARD_PWA_CLOUDFRONT_URL"
    """The PWA's URL on CloudFront."""
    PWA_OSS_BUCKET = "RAILYARD_PWA_OSS_BUCKET"
    """The PWA's OSS bucket."""
    PWA_ALIBABA_CDN_URL = "RAILYARD_PWA_ALIBABA_CDN_URL"
    """The PWA's URL on Alibaba CDN; empty: no CDN in China."""
    ALIBABA_CDN_ENDPOINT = "RAILYARD_ALIBABA_CDN_ENDPOINT"
    """Alibaba CDN API endpoint; unset: cdn.aliyuncs.com (tests: a stand-in)."""
    AGENT_URL = "RAILYARD_AGENT_URL"
    """The build farm's load balancer, http://<host>:<port>."""
    AGENT_NETWORK = "RAILYARD_AGENT_NETWORK"
    """CIDRs (comma-separated) the build agents live in; a job host outside them is refused."""
    AGENT_TOKEN = "RAILYARD_AGENT_TOKEN"
    """The build agents' bearer token itself (outside the cluster; pods mount a file)."""
    AGENT_TOKEN_FILE = "RAILYARD_AGENT_TOKEN_FILE"
    """File holding the build agents' bearer token."""
    KUBE_API_URL = "RAILYARD_KUBE_API_URL"
    """The Kubernetes API; unset: the pod's own (KUBERNETES_SERVICE_HOST, its token and CA)."""
    EVENTS_QUEUE_URL = "RAILYARD_EVENTS_QUEUE_URL"
    """SQS FIFO queue the pipeline events go to."""
    CARDS_TABLE = "RAILYARD_CARDS_TABLE"
    """DynamoDB table of the bridge's cards (``events card`` reads it)."""
    EVENTS_TABLE = "RAILYARD_EVENTS_TABLE"
    """DynamoDB table of every pipeline event, kept by the bridge (``report`` reads it)."""
    GITHUB_TOKEN_FILE = "RAILYARD_GITHUB_TOKEN_FILE"
    """File holding the GitHub token of the code-scanning gate."""
    PWA_CANARY = "RAILYARD_PWA_CANARY"
    """Name of the CloudWatch Synthetics canary that checks the live PWA (the post-deploy gate)."""
    APK_BUCKET = "RAILYARD_APK_BUCKET"
    """OSS bucket of the published APKs (releases/<env>/latest.json)."""
    BACKEND_NAMESPACE = "RAILYARD_BACKEND_NAMESPACE"
    """Namespace of the backend workload the unified release deploys."""
    BACKEND_WORKLOAD = "RAILYARD_BACKEND_WORKLOAD"
    """deployment/<name> or rollout/<name>: the backend workload."""
    ECR_REGISTRY = "RAILYARD_ECR_REGISTRY"
    """<account>.dkr.ecr.<region>.amazonaws.com: where the released images are."""
    SCAN_IMAGES = "RAILYARD_SCAN_IMAGES"
    """ECR repositories (comma-separated) whose image tagged with the commit is released."""


class CanaryEnv(StrEnum):
    """Read by the PWA canary's script (CloudWatch Synthetics, Node.js); the stack sets them on
    the canary's run config."""

    URL = "RAILYARD_PWA_URL"
    """The production URL the canary loads."""
    ENV = "RAILYARD_ENV"
    """The environment, the ``Env`` dimension of the metrics it puts."""
    MAX_LCP_MS = "RAILYARD_MAX_LCP_MS"
    """Largest Contentful Paint above this fails the run."""
    MAX_CLS = "RAILYARD_MAX_CLS"
    """Cumulative Layout Shift above this fails the run."""
    MAX_LOAD_MS = "RAILYARD_MAX_LOAD_MS"
    """The load event later than this fails the run."""
    METRICS_NAMESPACE = "RAILYARD_METRICS_NAMESPACE"
    """Where the timings go (the release dashboard's namespace)."""


class FederationEnv(StrEnum):
    """Alibaba OIDC federation, read by ``clouds.alibaba_credentials`` in any process; the stack
    sets the ARNs in the release ConfigMap and the token file in the templates."""

    ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
    """The RAM role a release pod's service-account token is exchanged for."""
    OIDC_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
    """The RAM identity provider of the cluster's issuer."""
    OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
    """The projected service-account token (audience sts.aliyuncs.com)."""
    ROLE_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
    """Session name of the assumed role; unset: railyard-steps."""
    STS_ENDPOINT = "RAILYARD_ALIBABA_STS_ENDPOINT"
    """Where AssumeRoleWithOIDC goes; unset: sts.<region>.aliyuncs.com (tests: a stand-in)."""


class BridgeEnv(StrEnum):
    """Read by ``railyard-bridge``; the stack sets them on its Deployment."""

    EVENTS_QUEUE_URL = "RAILYARD_EVENTS_QUEUE_URL"
    """SQS FIFO queue the bridge consumes."""
    EVENTS_DLQ_URL = "RAILYARD_EVENTS_DLQ_URL"
    """Dead-letter queue poison messages are sent to, with the reason."""
    CARDS_TABLE = "RAILYARD_CARDS_TABLE"
    """DynamoDB table of cards, one per feature."""
    EVENTS_TABLE = "RAILYARD_EVENTS_TABLE"
    """DynamoDB table every event is kept in for reports; unset: none kept."""
    CLOUDWATCH_METRICS = "RAILYARD_CLOUDWATCH_METRICS"
    """``on``: error counts go to CloudWatch too (the release dashboard); default off."""
    BOARD = "RAILYARD_BOARD"
    """Kind of board: webhook, github-projects or jira."""
    BOARD_CONFIG = "RAILYARD_BOARD_CONFIG"
    """JSON file of the board's settings (``kanban.board_config``)."""
    BOARD_SECRET_FILE = "RAILYARD_BOARD_SECRET_FILE"
    """File holding the webhook's HMAC secret, the GitHub token or the Jira API token."""
    COLUMN_RULES = "RAILYARD_COLUMN_RULES"
    """Optional YAML or JSON file of column rules; unset: the unified release's."""
    PORT = "RAILYARD_BRIDGE_PORT"
    """Port of /metrics and /healthz."""
    EVENTS_VISIBILITY_SECONDS = "RAILYARD_EVENTS_VISIBILITY_SECONDS"
    """The queue's visibility timeout."""
    EVENTS_WAIT_SECONDS = "RAILYARD_EVENTS_WAIT_SECONDS"
    """How long one receive waits for messages (SQS long poll); unset: 20, SQS's longest."""


class AgentEnv(StrEnum):
    """Read by ``railyard-agent`` on a build host; the stack writes them to ``AGENT_ENV_FILE``."""

    PORT = "RAILYARD_AGENT_PORT"
    """The API's port (bearer token)."""
    HEALTH_PORT = "RAILYARD_AGENT_HEALTH_PORT"
    """The load balancer's plain /healthz port."""
    BIND = "RAILYARD_AGENT_BIND"
    """Address both ports listen on."""
    DATA_DIR = "RAILYARD_AGENT_DATA_DIR"
    """The job database, logs and default workspaces."""
    ADVERTISE_URL = "RAILYARD_AGENT_ADVERTISE_URL"
    """How other hosts reach this agent; unset: its private IP from the instance metadata."""
    TOKEN_FILE = "RAILYARD_AGENT_TOKEN_FILE"
    """File holding the bearer token (tests, manual hosts)."""
    TOKEN_KMS_SECRET = "RAILYARD_AGENT_TOKEN_KMS_SECRET"
    """Name of the KMS secret holding the bearer token (build hosts)."""
    KMS_ENDPOINT = "RAILYARD_KMS_ENDPOINT"
    """KMS API endpoint; unset: kms.<region>.aliyuncs.com (tests: a stand-in)."""
    ALIBABA_REGION = "RAILYARD_ALIBABA_REGION"
    """Region of the APK bucket and the KMS secret."""
    APK_BUCKET = "RAILYARD_APK_BUCKET"
    """OSS bucket the APKs are uploaded to."""
    OSS_ENDPOINT = "RAILYARD_OSS_ENDPOINT"
    """OSS S3-compatible endpoint (the in-VPC one on build hosts)."""
    ANDROID_REPO = "RAILYARD_ANDROID_REPO"
    """Git URL the default build command fetches the commit from."""
    BUILD_COMMAND = "RAILYARD_BUILD_COMMAND"
    """The build, run in a fresh workspace; unset: fetch the commit and run Gradle."""
    APK_GLOB = "RAILYARD_APK_GLOB"
    """Where in the workspace the one APK is."""
    APK_MAX_BYTES = "RAILYARD_APK_MAX_BYTES"
    """Largest APK uploaded."""
    CONCURRENCY = "RAILYARD_AGENT_CONCURRENCY"
    """Builds at a time."""
    MAX_ATTEMPTS = "RAILYARD_AGENT_MAX_ATTEMPTS"
    """Runs of a job cut off by agent restarts before it fails."""
    BUILD_TIMEOUT_SECONDS = "RAILYARD_BUILD_TIMEOUT_SECONDS"
    """Deadline of one build."""
    DRAIN_GRACE_SECONDS = "RAILYARD_AGENT_DRAIN_GRACE_SECONDS"
    """How long a draining agent waits before it stops running builds."""
    MAX_QUEUED = "RAILYARD_AGENT_MAX_QUEUED"
    """Jobs waiting for a slot; one more is refused with 429."""
    MAX_CONNECTIONS = "RAILYARD_AGENT_MAX_CONNECTIONS"
    """Connections the API port keeps at once."""
    REQUEST_TIMEOUT_SECONDS = "RAILYARD_AGENT_REQUEST_TIMEOUT_SECONDS"
    """Time a connection has to deliver its request."""
    LOG_RETENTION_SECONDS = "RAILYARD_AGENT_LOG_RETENTION_SECONDS"
    """How long finished jobs' logs are kept."""
    BUILD_USER = "RAILYARD_BUILD_USER"
    """Unprivileged user builds run as; unset: the agent's own."""
    BUILD_WORK_DIR = "RAILYARD_BUILD_WORK_DIR"
    """Where build workspaces are made; unset: under the data directory."""
    BUILD_PASS_ENV = "RAILYARD_BUILD_PASS_ENV"
    """More variable names passed from the agent's environment to builds."""


class InstanceRoleEnv(StrEnum):
    """Read by the Alibaba credentials SDK on a build host (not by railyard's code): keys from
    the instance's RAM role. The stack writes them to ``AGENT_ENV_FILE``."""

    ECS_METADATA = "ALIBABA_CLOUD_ECS_METADATA"
    """Name of the instance's RAM role (saves the SDK a metadata lookup)."""
    IMDSV1_DISABLED = "ALIBABA_CLOUD_IMDSV1_DISABLED"
    """``true``: the metadata is read in hardened mode (IMDSv2) only."""


class BuildEnv(StrEnum):
    """What the agent gives every build command, besides ``HOME`` and the base variables."""

    COMMIT = "RAILYARD_COMMIT"
    """The commit to build."""
    JOB_ID = "RAILYARD_JOB_ID"
    """The agent's job id."""
    ANDROID_REPO = AgentEnv.ANDROID_REPO.value
    """The agent's git URL of the app, when set."""


AGENT_ONLY_ENV = ("RAILYARD_AGENT_", "ALIBABA_CLOUD_", "AWS_")
"""Prefixes of the agent's own settings and credentials: never passed to a build."""

AGENT_ENV_FILE = PurePosixPath("/etc/railyard/agent.env")
"""The agent's settings on a build host: cloud-init writes it, the systemd unit loads it."""
BOARD_FILES_DIR = PurePosixPath("/etc/railyard/board")
"""Where the bridge's ConfigMap is mounted; each file's name is its ConfigMap key."""
BOARD_CONFIG_FILE = BOARD_FILES_DIR / "board.json"
"""The board config, passed as ``BridgeEnv.BOARD_CONFIG``."""
COLUMN_RULES_FILE = BOARD_FILES_DIR / "rules.json"
"""The column rules when configured, passed as ``BridgeEnv.COLUMN_RULES``."""
BOARD_SECRET_FILE = PurePosixPath("/var/run/railyard/board/secret")
"""The board's secret, mounted from a Secret (its key: the file's name), passed as
``BridgeEnv.BOARD_SECRET_FILE``."""
