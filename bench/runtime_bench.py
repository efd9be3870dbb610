"""Benchmarks of the runtime on loopback: PWA publish and the build agent's completion notice.

    .venv/bin/python bench/runtime_bench.py [--files 2000] [--jobs 20]

- publish: a synthetic build of --files files to two buckets (S3 and the OSS stand-in, both on
  moto's server) with a CloudFront invalidation: files/s and MB/s; then the same build again
  (re-publish: time and bytes, which must be 0).
- notice: a real agent process runs --jobs short builds; for each, how long after the agent
  recorded the finish did the CLI's long poll return (p50 / p95 / max).
Numbers depend on the machine; they are printed, not asserted. Publish throughput here is
bound by moto's server (about 10 ms per PUT whatever the concurrency); against S3 and OSS the
--concurrency uploads per target run in parallel. The notice latency includes the agent's
fsync of the finished job (SQLite, synchronous=FULL).
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import boto3
import httpx
import typer
from moto.server import ThreadedMotoServer
from rich.console import Console
from rich.table import Table

from railyard_runtime import clouds
from railyard_runtime.agent.jobs import Job
from railyard_runtime.android import AgentClient, BuildPolicy
from railyard_runtime.pwa import build, publish
from railyard_runtime.pwa.cdn import CloudFront
from railyard_runtime.pwa.store import Bucket

console = Console()
TOKEN = "b" * 48


def synthetic_build(root: Path, files: int) -> Path:
    """Mostly small chunks, a few large bundles, the three entrypoints: like a real SPA."""
    rng = random.Random(7)
    dist = root / "dist"
    for i in range(files - 3):
        size = rng.choice([600, 2_000, 8_000, 20_000]) if i % 50 else 250_000
        folder = "assets" if i % 3 else "static"
        path = dist / folder / f"chunk-{i:05d}.{rng.getrandbits(32):08x}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    for name in ("sw.js", "index.html", "asset-manifest.json"):
        (dist / name).write_text(f"// {name} of the benchmark build\n")
    return dist


def bench_publish(endpoint: str, files: int, concurrency: int) -> Table:
    os.environ |= {
        "AWS_ENDPOINT_URL": endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "bench",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench",
    }
    s3 = clouds.aws_client("s3")
    for bucket in ("bench-pwa", "bench-pwa-cn"):
        s3.create_bucket(Bucket=bucket)
    cloudfront = clouds.aws_client("cloudfront")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "bench",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "o",
                        "DomainName": "bench-pwa.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "https-only",
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "MinTTL": 0,
            },
            "Comment": "bench",
            "Enabled": True,
        }
    )["Distribution"]["Id"]
    targets = [
        publish.Target(
            "aws", Bucket(s3, "bench-pwa"), CloudFront(cloudfront, distribution, "https://x")
        ),
        publish.Target(
            "alibaba", Bucket(clouds.oss_client("cn-hangzhou", endpoint), "bench-pwa-cn")
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        dist = synthetic_build(Path(tmp), files)
        scanned = build.scan(dist)
        total = sum(f.size for f in scanned)
        table = Table("run", "files", "MB", "seconds", "files/s", "MB/s", "uploaded bytes")
        for run, release in (("publish", "r1"), ("re-publish", "r1")):
            started = time.perf_counter()
            reports = publish.publish(scanned, release, targets, concurrency=concurrency)
            seconds = time.perf_counter() - started
            sent = sum(r.uploaded_bytes for r in reports)
            n = len(scanned) * len(targets)
            table.add_row(
                f"{run} (2 targets)",
                str(n),
                f"{total * 2 / 1e6:.1f}",
                f"{seconds:.2f}",
                f"{n / seconds:,.0f}",
                f"{sent / 1e6 / seconds:.1f}",
                f"{sent:,}",
            )
    return table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_notice(endpoint: str, jobs: int) -> Table:
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    ).create_bucket(Bucket="bench-apks")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "token").write_text(TOKEN)
        script = root / "build.py"
        script.write_text(
            "import pathlib, time\ntime.sleep(0.3)\n"
            "p = pathlib.Path('out/app.apk'); p.parent.mkdir(); p.write_bytes(b'apk')\n"
        )
        port, health = _free_port(), _free_port()
        env = os.environ | {
            "RAILYARD_AGENT_PORT": str(port),
            "RAILYARD_AGENT_HEALTH_PORT": str(health),
            "RAILYARD_AGENT_BIND": "127.0.0.1",
            "RAILYARD_AGENT_ADVERTISE_URL": f"http://127.0.0.1:{port}",
            "RAILYARD_AGENT_DATA_DIR": str(root / "data"),
            "RAILYARD_AGENT_TOKEN_FILE": str(root / "token"),
            "RAILYARD_BUILD_COMMAND": f"{sys.executable} {script}",
            "RAILYARD_APK_GLOB": "out/*.apk",
            "RAILYARD_APK_BUCKET": "bench-apks",
            "RAILYARD_ALIBABA_REGION": "cn-hangzhou",
            "RAILYARD_OSS_ENDPOINT": endpoint,
        }
        agent = subprocess.Popen(
            [sys.executable, "-m", "railyard_runtime.agent.server"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{health}/healthz", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            client = AgentClient(TOKEN, BuildPolicy())
            latencies = []
            for i in range(jobs):
                job = client.submit(f"http://127.0.0.1:{port}", f"{i:040x}")
                while not job.state.is_final:
                    job = client.wait(job, 30)
                heard = time.time()
                assert isinstance(job, Job) and job.finished_at is not None, job
                latencies.append(heard - job.finished_at)
        finally:
            agent.terminate()
            agent.wait(timeout=30)
    ms = sorted(x * 1000 for x in latencies)
    table = Table("builds", "notice p50 ms", "p95 ms", "max ms", "polling every 30 s would be")
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    table.add_row(
        str(jobs), f"{statistics.median(ms):.1f}", f"{p95:.1f}", f"{ms[-1]:.1f}", "~15,000 ms avg"
    )
    return table


def main(
    files: Annotated[int, typer.Option(min=10, help="Files in the synthetic build.")] = 2000,
    jobs: Annotated[int, typer.Option(min=1, help="Builds for the notice latency.")] = 20,
    concurrency: Annotated[int, typer.Option(min=1, help="Uploads at a time per target.")] = 16,
) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        console.print(bench_publish(endpoint, files, concurrency))
        console.print(bench_notice(endpoint, jobs))
    finally:
        server.stop()


if __name__ == "__main__":
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    typer.run(main)
