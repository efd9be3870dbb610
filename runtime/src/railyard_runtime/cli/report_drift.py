"""``railyard-steps report drift``: what runs, against what the last successful release says
should run (``railyard_runtime.report.drift``).

Registered on ``railyard_runtime.cli.report``'s app; ``railyard_runtime.cli`` imports this
module for that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from railyard_runtime import clouds, rollout
from railyard_runtime import events as pipeline_events
from railyard_runtime.cli.output import current, err, step
from railyard_runtime.cli.pwa import TargetOptions
from railyard_runtime.cli.report import Env, Events, TableName, app, aws_call, load
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput
from railyard_runtime.pwa.store import Bucket
from railyard_runtime.report import drift, metrics

DRIFT_WINDOW = timedelta(days=30)
"""How far back ``report drift`` looks for the last successful release."""


def _drift_option(envvar: StepsEnv, text: str, name: str | None = None):
    names = (name,) if name else ()
    return Annotated[str, typer.Option(*names, envvar=envvar, help=text)]


DriftQueueUrl = _drift_option(
    StepsEnv.EVENTS_QUEUE_URL, "SQS FIFO queue of pipeline events; empty: no events are sent."
)
BackendNamespace = _drift_option(StepsEnv.BACKEND_NAMESPACE, "Namespace of the backend workload.")
BackendWorkload = _drift_option(
    StepsEnv.BACKEND_WORKLOAD, "deployment/<name> or rollout/<name>: the backend workload."
)
EcrRegistry = _drift_option(
    StepsEnv.ECR_REGISTRY, "<account>.dkr.ecr.<region>.amazonaws.com: the released images."
)
ImageRepositories = _drift_option(
    StepsEnv.SCAN_IMAGES, "ECR repositories (comma-separated) tagged with the commit.", "--images"
)
DriftS3Bucket = _drift_option(StepsEnv.PWA_S3_BUCKET, "The PWA's S3 bucket (pwa.s3Bucket).")
DriftCloudFrontId = _drift_option(
    StepsEnv.PWA_CLOUDFRONT_ID, "The PWA's CloudFront distribution id."
)
DriftCloudFrontUrl = _drift_option(StepsEnv.PWA_CLOUDFRONT_URL, "The PWA's URL on CloudFront.")
DriftOssBucket = _drift_option(StepsEnv.PWA_OSS_BUCKET, "The PWA's OSS bucket (pwa.ossBucket).")
DriftAlibabaRegion = _drift_option(
    StepsEnv.ALIBABA_REGION, "Alibaba region of the OSS buckets (PWA, APKs)."
)
DriftOssEndpoint = _drift_option(
    StepsEnv.OSS_ENDPOINT, "OSS S3-compatible endpoint; default the region's public one."
)
DriftAlibabaCdnUrl = _drift_option(
    StepsEnv.PWA_ALIBABA_CDN_URL, "The PWA's URL on Alibaba CDN; empty: no CDN in China."
)
ApkBucket = _drift_option(StepsEnv.APK_BUCKET, "OSS bucket of the APKs (releases/<env>/).")


@app.command("drift")
@step
def drift_command(
    ctx: typer.Context,
    env: Env,
    events: Events = None,
    table: TableName = "",
    workflow_uid: Annotated[
        str, typer.Option(help="This run's {{workflow.uid}}: the events' workflow.")
    ] = "",
    queue_url: DriftQueueUrl = "",
    put_metrics: Annotated[
        bool, typer.Option("--put-metrics/--no-put-metrics", help="Put the Drift metric.")
    ] = True,
    backend_namespace: BackendNamespace = "",
    backend_workload: BackendWorkload = "",
    ecr_registry: EcrRegistry = "",
    images: ImageRepositories = "",
    s3_bucket: DriftS3Bucket = "",
    cloudfront_distribution: DriftCloudFrontId = "",
    cloudfront_url: DriftCloudFrontUrl = "",
    oss_bucket: DriftOssBucket = "",
    alibaba_region: DriftAlibabaRegion = "",
    oss_endpoint: DriftOssEndpoint = "",
    alibaba_cdn_url: DriftAlibabaCdnUrl = "",
    apk_bucket: ApkBucket = "",
    deadline: Annotated[
        float, typer.Option(min=0.1, max=120, help="Seconds each request of a check may take.")
    ] = 10,
) -> None:
    """What runs against what the last successful release says should run.

    Backend image digests, the PWA each CDN serves, the published APK. Each difference is a
    Failed ``drift`` event on the release's card and a Drift metric of 1; a target that could
    not be checked gets the metric's 1 but no event. Exit 1 if any target is not known to
    match."""
    if queue_url and not queue_url.endswith(".fifo"):
        raise BadInput(f"--queue-url {queue_url!r}: must be a FIFO queue (ends in .fifo)")
    if queue_url and not workflow_uid:
        raise BadInput("--workflow-uid: needed to send events (this run's {{workflow.uid}})")
    out = current(ctx)
    now = datetime.now(UTC)
    release = drift.last_release(load(events, table, env, now - DRIFT_WINDOW, now), env)
    if release is None:
        out.result(
            {"release": None, "findings": []},
            lambda console: console.print(
                f"no successful release in {env} in the last {DRIFT_WINDOW.days} days: "
                "nothing to compare",
                highlight=False,
            ),
        )
        return
    commit, feature = release.commit or "", drift.feature_of(release)

    def backend() -> drift.Finding:
        ecr = clouds.aws_client("ecr", drift.ecr_region(drift.normalize_registry(ecr_registry)))
        repositories = [r.strip() for r in images.split(",") if r.strip()]
        return drift.check_backend(
            ecr,
            rollout.ClusterApi.from_environment(),
            backend_namespace,
            backend_workload,
            ecr_registry,
            repositories,
            commit,
            deadline,
        )

    def pwa() -> drift.Finding:
        options = TargetOptions(
            s3_bucket=s3_bucket,
            cloudfront_distribution=cloudfront_distribution,
            cloudfront_url=cloudfront_url,
            oss_bucket=oss_bucket,
            alibaba_region=alibaba_region,
            oss_endpoint=oss_endpoint,
            alibaba_cdn_url=alibaba_cdn_url,
        )
        return drift.check_pwa(options.targets(), commit, deadline)

    def android() -> drift.Finding:
        if not apk_bucket:
            raise BadInput(f"no APK bucket: set --apk-bucket ({StepsEnv.APK_BUCKET})")
        if not alibaba_region:
            raise BadInput(f"--alibaba-region is required ({StepsEnv.ALIBABA_REGION})")
        oss = clouds.oss_client(alibaba_region, oss_endpoint or None)
        return drift.check_android(Bucket(oss, apk_bucket, "--apk-bucket"), env, commit)

    checks = {"backend": backend, "pwa": pwa, "android": android}
    # building a target's clients may fail too: that target is not checked, the others are
    findings = [drift.guarded(t, drift.expectation(t, commit), checks[t]) for t in drift.TARGETS]
    drifted = [f for f in findings if f.drifted]
    sent: list[str] = []
    with aws_call("drift"):
        put = (
            metrics.put(
                clouds.aws_client("cloudwatch"),
                drift.metric_data(findings, env, now, metrics.DRIFT),
            )
            if put_metrics
            else 0
        )
        if queue_url:
            sqs = clouds.aws_client("sqs")
            for finding in drifted:
                event = pipeline_events.PipelineEvent(
                    feature=feature,
                    env=env,
                    lane=drift.LANES[finding.target],
                    phase=pipeline_events.Phase.FAILED,
                    workflow_uid=workflow_uid,
                    task=drift.drift_task(finding, drifted),
                    template=pipeline_events.DRIFT_CHECK,  # not a run the keys count
                    commit=commit,
                )
                pipeline_events.publish(sqs, queue_url, event)
                sent.append(event.deduplication_id)
    result = {
        "release": {"workflowUid": release.uid, "commit": commit, "feature": feature},
        "findings": findings,
        "metricsPut": put,
        "events": sent,
    }

    def human(console) -> None:
        shown = Table(
            "target", "ok", "expected", "found", "detail", title=f"{env} · {feature} · {commit}"
        )
        for f in findings:
            verdict = "yes" if f.ok else ("NOT CHECKED" if not f.checked else "DRIFT")
            shown.add_row(f.target, verdict, f.expected, f.found, f.detail)
        console.print(shown)

    out.result(result, human)
    failed = [f for f in findings if not f.ok]
    if failed:
        # one line per target, unwrapped: the workflow's log keeps whole digests
        lines = [f"drift in {env} against release {release.uid} ({commit}):"]
        lines += [f"{f.target}: {f.detail}" for f in failed]
        err.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
