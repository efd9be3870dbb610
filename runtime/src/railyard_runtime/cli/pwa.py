"""``railyard-steps pwa``: publish, verify, roll back, kill switch, the canary gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from railyard_runtime import cache_rules, clouds
from railyard_runtime.cli.output import current, step
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput
from railyard_runtime.pwa import build, canary, prune, publish, verify
from railyard_runtime.pwa.cdn import AlibabaCdn, CloudFront
from railyard_runtime.pwa.store import Bucket

app = typer.Typer(help="The PWA on S3/CloudFront and OSS/Alibaba CDN.", no_args_is_help=True)

S3Bucket = Annotated[
    str,
    typer.Option(envvar=StepsEnv.PWA_S3_BUCKET, help="S3 bucket (stack output pwa.s3Bucket)."),
]
CloudFrontId = Annotated[
    str,
    typer.Option(
        envvar=StepsEnv.PWA_CLOUDFRONT_ID,
        help="CloudFront distribution id (pwa.cloudfrontDistributionId).",
    ),
]
CloudFrontUrl = Annotated[
    str,
    typer.Option(envvar=StepsEnv.PWA_CLOUDFRONT_URL, help="Site URL on CloudFront (pwa.url)."),
]
OssBucket = Annotated[
    str, typer.Option(envvar=StepsEnv.PWA_OSS_BUCKET, help="OSS bucket (pwa.ossBucket).")
]
AlibabaRegion = Annotated[
    str, typer.Option(envvar=StepsEnv.ALIBABA_REGION, help="Alibaba region of the OSS bucket.")
]
OssEndpoint = Annotated[
    str,
    typer.Option(
        envvar=StepsEnv.OSS_ENDPOINT,
        help="OSS S3-compatible endpoint; default https://s3.oss-<region>.aliyuncs.com.",
    ),
]
AlibabaCdnUrl = Annotated[
    str,
    typer.Option(
        envvar=StepsEnv.PWA_ALIBABA_CDN_URL,
        help="Site URL on Alibaba CDN, https://<pwa.alibabaCdnDomain>. Empty: no CDN in China.",
    ),
]


@dataclass(frozen=True)
class TargetOptions:
    s3_bucket: str
    cloudfront_distribution: str
    cloudfront_url: str
    oss_bucket: str
    alibaba_region: str
    oss_endpoint: str
    alibaba_cdn_url: str

    def targets(self) -> list[publish.Target]:
        """The buckets (and CDNs) named, as publish targets; at least one."""
        targets = []
        if self.s3_bucket:
            targets.append(
                publish.Target(
                    "aws", Bucket(clouds.aws_client("s3"), self.s3_bucket, "--s3-bucket")
                )
            )
            if bool(self.cloudfront_distribution) != bool(self.cloudfront_url):
                raise BadInput("set --cloudfront-distribution and --cloudfront-url together")
            if self.cloudfront_distribution:
                targets[-1].cdn = CloudFront(
                    clouds.aws_client("cloudfront"),
                    self.cloudfront_distribution,
                    self.cloudfront_url,
                )
        if self.oss_bucket:
            if not self.alibaba_region:
                raise BadInput("--alibaba-region is required with --oss-bucket (e.g. cn-hangzhou)")
            oss = clouds.oss_client(self.alibaba_region, self.oss_endpoint or None)
            targets.append(publish.Target("alibaba", Bucket(oss, self.oss_bucket, "--oss-bucket")))
            if self.alibaba_cdn_url:
                from alibabacloud_cdn20180510.client import Client

                config = clouds.alibaba_openapi_config(
                    self.alibaba_region, StepsEnv.ALIBABA_CDN_ENDPOINT, "cdn.aliyuncs.com"
                )
                targets[-1].cdn = AlibabaCdn(Client(config), self.alibaba_cdn_url)
        if not targets:
            raise BadInput(
                "no target: set --s3-bucket and/or --oss-bucket (or "
                f"{StepsEnv.PWA_S3_BUCKET} and/or {StepsEnv.PWA_OSS_BUCKET})"
            )
        return targets


@app.callback()
def targets_callback(
    ctx: typer.Context,
    s3_bucket: S3Bucket = "",
    cloudfront_distribution: CloudFrontId = "",
    cloudfront_url: CloudFrontUrl = "",
    oss_bucket: OssBucket = "",
    alibaba_region: AlibabaRegion = "",
    oss_endpoint: OssEndpoint = "",
    alibaba_cdn_url: AlibabaCdnUrl = "",
) -> None:
    """Where the PWA lives; each option also reads its RAILYARD_* environment variable."""
    ctx.obj = TargetOptions(
        s3_bucket,
        cloudfront_distribution,
        cloudfront_url,
        oss_bucket,
        alibaba_region,
        oss_endpoint,
        alibaba_cdn_url,
    )


def _reports_table(reports: list[publish.TargetReport]):
    def show(console):
        table = Table("target", "release", "uploaded", "bytes", "skipped", "entrypoints", "CDN")
        for r in reports:
            table.add_row(
                r.target,
                r.release,
                str(r.uploaded_files),
                f"{r.uploaded_bytes:,}",
                str(r.skipped_files),
                " ".join(r.changed_entrypoints) or "unchanged",
                r.invalidation or "-",
            )
        console.print(table)

    return show


@app.command("publish")
@step
def publish_command(
    ctx: typer.Context,
    dist: Annotated[Path, typer.Argument(help="The PWA's build output folder.")],
    release: Annotated[str, typer.Option("--release", help="Release id (pipeline run, commit).")],
    hashed_path: Annotated[
        list[str] | None,
        typer.Option(help="Folder of content-hashed assets (repeat); stack pwaHashedAssetPaths."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=128, help="Uploads at a time.")] = 16,
) -> None:
    """Upload a build: hashed assets first, then the entrypoints; invalidate what changed."""
    out = current(ctx)
    files = build.scan(dist, hashed_path or cache_rules.DEFAULT_HASHED_ASSET_PATHS)
    targets = ctx.obj.targets()
    total = sum(f.size for f in files)
    with out.progress() as bars:
        tasks = {t.name: bars.add_task(f"{t.name}: {release}", total=total) for t in targets}
        reports = publish.publish(
            files, release, targets, lambda name, n: bars.advance(tasks[name], n), concurrency
        )
    out.result(reports, _reports_table(reports))


@app.command("rollback")
@step
def rollback_command(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option(
            help="Release id; default: what the kill switch replaced, else the last verified, "
            "else the previous; right after a rollback: stay."
        ),
    ] = None,
) -> None:
    """Undo: serve an earlier release's entrypoints again on every target, all or none."""
    targets = ctx.obj.targets()
    reports = publish.rollback(targets, to)
    out = current(ctx)
    for note in dict.fromkeys(r.note for r in reports if r.note):
        out.note(note)
    out.result(reports, _reports_table(reports))


@app.command("kill-switch")
@step
def kill_switch_command(
    ctx: typer.Context,
) -> None:
    """Serve a service worker that clears caches and unregisters itself (undo: rollback)."""
    targets = ctx.obj.targets()
    reports = publish.kill_switch(targets)
    out = current(ctx)
    for note in (r.note for r in reports if r.note):
        out.note(note)
    out.result(reports, _reports_table(reports))


@app.command("prune")
@step
def prune_command(
    ctx: typer.Context,
    keep: Annotated[
        int, typer.Option(help="Newest releases kept (stack pwaKeepReleases); live always is.")
    ] = 5,
) -> None:
    """Delete the files only older releases still need, with their records."""
    reports = prune.prune(ctx.obj.targets(), keep)

    def show(console):
        table = Table("target", "kept", "dropped", "files deleted", "bytes deleted")
        for r in reports:
            table.add_row(
                r.target,
                " ".join(r.kept_releases),
                " ".join(r.dropped_releases) or "-",
                str(r.deleted_files),
                f"{r.deleted_bytes:,}",
            )
        console.print(table)

    current(ctx).result(reports, show)


@app.command("verify")
@step
def verify_command(
    ctx: typer.Context,
    release: Annotated[
        str | None, typer.Option(help="Fail unless this release is the live one.")
    ] = None,
    deadline: Annotated[float, typer.Option(min=1, help="Seconds to wait for the edges.")] = 120,
) -> None:
    """Compare the live /sw.js and manifest on every CDN with the release record."""
    out = current(ctx)
    targets = ctx.obj.targets()
    with out.progress() as bars:
        task = bars.add_task("waiting for the CDNs", total=None)

        def attempt(checks: list[verify.Check]) -> None:
            matching = sum(c.ok for c in checks)
            bars.update(task, description=f"{matching}/{len(checks)} CDN files match the release")

        checks = verify.verify(targets, release, deadline, on_attempt=attempt)

    def show(console):
        table = Table("target", "url", "sha256", "ok")
        for c in checks:
            table.add_row(c.target, c.url, c.served_sha256 or "-", "yes" if c.ok else "NO")
        console.print(table)

    out.result(checks, show)


def _after(value: str) -> datetime:
    example = "e.g. 2026-11-01T12:00:00Z"
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"--after {value[:80]!r}: not a time; use ISO 8601, {example}") from None
    if parsed.utcoffset() is None:
        raise BadInput(f"--after {value[:80]!r}: needs a time zone, {example}")
    return parsed


@app.command("canary")
@step
def canary_command(
    ctx: typer.Context,
    after: Annotated[
        str,
        typer.Option(help="Only runs started after this time count: ISO 8601 with a zone."),
    ],
    name: Annotated[
        str,
        typer.Option(envvar=StepsEnv.PWA_CANARY, help="The Synthetics canary (release ConfigMap)."),
    ] = "",
    deadline: Annotated[
        int, typer.Option(min=60, max=3600, help="Seconds to wait for a finished run.")
    ] = 900,
    poll: Annotated[int, typer.Option(min=1, max=120, help="Seconds between looks.")] = 15,
) -> None:
    """The post-deploy gate: pass or fail with the canary's first run after --after."""
    if not name.strip():
        raise BadInput(
            f"--name: no canary; the stack sets {StepsEnv.PWA_CANARY} in the release ConfigMap"
        )
    since = _after(after)
    out = current(ctx)
    with out.progress() as bars:
        task = bars.add_task(f"waiting for a run of {name} after {since.isoformat()}", total=None)
        run = canary.wait_for_run(
            clouds.aws_client("synthetics"),
            name,
            since,
            deadline,
            poll,
            report=lambda what: bars.update(task, description=f"canary {name}: {what}"),
        )
    result = {
        "canary": name,
        "runId": run.id,
        "state": run.state,
        "started": run.started.isoformat(),
        "completed": run.completed.isoformat() if run.completed else None,
    }
    out.result(
        result,
        lambda console: console.print(
            f"canary {name}: run {run.id} {run.state} (started {result['started']}, "
            f"completed {result['completed'] or '-'})",
            highlight=False,
            markup=False,
        ),
    )
