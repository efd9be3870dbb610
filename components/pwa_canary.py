"""The PWA's post-deploy check: a CloudWatch Synthetics canary on the production URL.

Every five minutes it loads the PWA in Chromium, confirms the service worker the CDN serves is
the one that controls the page, and records LCP, CLS and load time (metrics the release
dashboard draws); a run fails when one breaches its threshold. The unified release waits for
the first run that starts after its verified publish (``railyard-steps pwa canary``) and fails
its PWA lane — and the Android publish behind it — with that run.

A managed service, so no image: the script (``canary/pwa_canary.js``) is zipped by Pulumi into
a private bucket under a name with its content hash, so a changed script updates the canary.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.storage import PrivateS3Bucket, PrivateS3BucketArgs
from railyard.iam_policies import put_metrics, service_trust
from railyard_runtime.environment import CanaryEnv
from railyard_runtime.pwa.canary import NAME
from railyard_runtime.report import metrics

SCRIPT = Path(__file__).parent / "canary" / "pwa_canary.js"
# Node.js 22 with Puppeteer 24 and Chromium 142; the last runtime before the libraries'
# module names changed (13.1). Check: aws synthetics describe-runtime-versions
RUNTIME_VERSION = "syn-nodejs-puppeteer-13.0"
HANDLER = "canary.handler"
SCRIPT_PATH = "nodejs/node_modules/canary.js"  # the layout every puppeteer runtime loads
RUNS_PREFIX = "runs/"  # screenshots, logs and HAR files of each run: these expire, the code stays
SCHEDULE = "rate(5 minutes)"
TIMEOUT_SECONDS = 120  # provider: 3-840
MEMORY_MB = 1536  # provider: at least 960, a multiple of 64
RETENTION_DAYS = (7, 31)  # passed, failed runs; provider: 1-455


@dataclass
class PwaCanaryArgs:
    url: pulumi.Input[str]
    """The production URL it loads (the CloudFront distribution or its domain)."""
    env: str
    """The environment: the ``Env`` dimension of the timings it puts."""
    max_lcp_ms: int
    max_cls: str
    """A decimal, as config holds it."""
    max_load_ms: int
    expire_artifacts_days: int = 31


def canary_name(prefix: str) -> str:
    """What AWS accepts (lowercase letters, digits, - and _), from the stack's prefix."""
    name = re.sub(r"[^0-9a-z_\-]", "-", f"{prefix}-pwa".lower())
    if not NAME.fullmatch(name):
        raise ValueError(f"canary name {name!r}: 1-255 of a-z, 0-9, - and _")
    return name


def script_key() -> str:
    """The zip's key, named by the script's content: a new script is a new key."""
    digest = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:16]
    return f"code/pwa-canary-{digest}.zip"


class PwaCanary(pulumi.ComponentResource):
    """The canary, its code and artifacts bucket and its execution role; ``opts`` brings the
    AWS provider."""

    name: str
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: PwaCanaryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:pwa:PwaCanary", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.name = canary_name(name)
        bucket = PrivateS3Bucket(
            f"{name}-canary",
            PrivateS3BucketArgs(
                keep_noncurrent_versions=1,
                expire_after_days=args.expire_artifacts_days,
                expire_prefix=RUNS_PREFIX,
            ),
            opts=child,
        )
        code = aws.s3.BucketObjectv2(
            f"{name}-canary-code",
            bucket=bucket.name,
            key=script_key(),
            source=pulumi.AssetArchive({SCRIPT_PATH: pulumi.FileAsset(str(SCRIPT))}),
            opts=child,
        )
        role, policy = self._role(name, bucket.arn)
        canary = aws.synthetics.Canary(
            f"{name}-canary",
            name=self.name,
            runtime_version=RUNTIME_VERSION,
            handler=HANDLER,
            s3_bucket=bucket.name,
            s3_key=code.key,
            execution_role_arn=role.arn,
            artifact_s3_location=pulumi.Output.concat("s3://", bucket.name, "/", RUNS_PREFIX),
            artifact_config=aws.synthetics.CanaryArtifactConfigArgs(
                s3_encryption=aws.synthetics.CanaryArtifactConfigS3EncryptionArgs(
                    encryption_mode="SSE_S3"
                )
            ),
            schedule=aws.synthetics.CanaryScheduleArgs(expression=SCHEDULE),
            run_config=aws.synthetics.CanaryRunConfigArgs(
                timeout_in_seconds=TIMEOUT_SECONDS,
                memory_in_mb=MEMORY_MB,
                environment_variables=canary_environment(args),
            ),
            success_retention_period=RETENTION_DAYS[0],
            failure_retention_period=RETENTION_DAYS[1],
            start_canary=True,
            delete_lambda=True,  # the function AWS made for it goes with it
            # AWS checks the role can do its work when the canary is created and started
            opts=pulumi.ResourceOptions(parent=self, depends_on=[code, policy]),
        )
        self.arn = canary.arn
        self.register_outputs({"name": self.name, "arn": canary.arn})

    def _role(
        self, name: str, bucket_arn: pulumi.Output[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-canary",
            assume_role_policy=service_trust("lambda.amazonaws.com"),  # Synthetics runs it
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-canary",
            role=role.id,
            policy=bucket_arn.apply(lambda arn: execution_policy(arn, self.name)),
            opts=child,
        )
        return role, policy


def canary_environment(args: PwaCanaryArgs) -> dict[str, pulumi.Input[str]]:
    """What the script reads, by the names it reads them under."""
    return {
        CanaryEnv.URL: args.url,
        CanaryEnv.ENV: args.env,
        CanaryEnv.MAX_LCP_MS: str(args.max_lcp_ms),
        CanaryEnv.MAX_CLS: args.max_cls,
        CanaryEnv.MAX_LOAD_MS: str(args.max_load_ms),
        CanaryEnv.METRICS_NAMESPACE: metrics.NAMESPACE,
    }


def execution_policy(bucket_arn: str, name: str) -> str:
    """What AWS documents a canary needs, limited to its bucket and log groups, plus its own
    metrics namespace for the timings."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:GetObject"],
                    "Resource": f"{bucket_arn}/*",
                },
                {"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": bucket_arn},
                {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"arn:aws:logs:*:*:log-group:/aws/lambda/cwsyn-{name}-*",
                },
                put_metrics("CloudWatchSynthetics"),
                put_metrics(metrics.NAMESPACE),
            ],
        }
    )
