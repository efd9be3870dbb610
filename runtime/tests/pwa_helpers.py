"""A PWA build on disk and the two targets (S3 + CloudFront, OSS + Alibaba CDN) it goes to."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pytest
import typer.testing
from conftest import ALIBABA_REGION, AlibabaApi, Edge, LocalServer, QuietHandler, client
from typer.main import get_command
from typer.testing import CliRunner

from railyard_runtime.cli import app

ENTRYPOINTS = ("sw.js", "index.html", "asset-manifest.json")


@functools.cache
def _command():
    return get_command(app)


def invoke(args: list[str]):
    """``CliRunner().invoke(app, args)`` on the click command of ``app`` built once: typer
    would rebuild it from the signature of every command of the CLI on each call."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", lambda _: _command())
        return CliRunner().invoke(app, args)


@functools.cache
def moto_client(service: str, endpoint: str):
    """The tests' own client of a moto service, one per process (clients are thread-safe
    and hold no state of a test; building one costs more than many requests)."""
    return client(service, endpoint)


def make_build(root: Path, version: str, extra_files: int = 0) -> Path:
    """A build whose app bundle and entrypoints change with ``version``; the logo never does."""
    dist = root / f"dist-{version}"
    bundle = f"console.log('app {version}');\n".encode() * 50
    name = f"app.{hashlib.sha256(bundle).hexdigest()[:8]}.js"
    files = {
        f"assets/{name}": bundle,
        "assets/style.5d41402a.css": b"body { margin: 0 }\n",
        "static/logo.0cc175b9.png": bytes(range(256)) * 8,
        "favicon.ico": b"\x00\x00\x01\x00icon",
        "index.html": f'<script src="/assets/{name}"></script><!-- {version} -->'.encode(),
        "asset-manifest.json": json.dumps({"files": {"main.js": f"/assets/{name}"}}).encode(),
        "sw.js": f"// sw {version}\nself.addEventListener('fetch', () => {{}});".encode(),
    }
    for i in range(extra_files):
        files[f"static/chunk-{i:04d}.{i:08x}.js"] = f"export const n = {i};\n".encode() * 20
    for key, data in files.items():
        path = dist / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dist


@dataclass
class PwaWorld:
    s3: object
    cloudfront: object
    distribution_id: str
    aws_bucket: str
    oss_bucket: str
    alibaba: AlibabaApi
    aws_edge: Edge
    oss_edge: Edge
    oss_endpoint: str = ""

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point ``pwa`` commands at this world (each option's environment variable)."""
        for key, value in {
            "RAILYARD_PWA_S3_BUCKET": self.aws_bucket,
            "RAILYARD_PWA_CLOUDFRONT_ID": self.distribution_id,
            "RAILYARD_PWA_CLOUDFRONT_URL": self.aws_edge.url,
            "RAILYARD_PWA_OSS_BUCKET": self.oss_bucket,
            "RAILYARD_ALIBABA_REGION": ALIBABA_REGION,
            "RAILYARD_OSS_ENDPOINT": self.oss_endpoint,
            "RAILYARD_PWA_ALIBABA_CDN_URL": self.oss_edge.url,
        }.items():
            monkeypatch.setenv(key, value)

    def run(self, *args: str, ok: bool = True):
        result = invoke(["--json", *args])
        if ok and result.exit_code != 0:
            raise AssertionError(f"{args} exited {result.exit_code}: {result.output}") from (
                result.exception if not isinstance(result.exception, SystemExit) else None
            )
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args).stdout)

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object's bytes: a GET per object, so only where every byte is the point."""
        return {k: self.get(bucket, k) for k in self.keys(bucket)}

    def keys(self, bucket: str) -> list[str]:
        return list(self.listing(bucket))

    def listing(self, bucket: str) -> dict[str, tuple[str, int, object]]:
        """Every key with its ETag (the MD5 of its bytes), size and time of last write, in one
        request: any object added, removed, changed or even rewritten shows here."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                found[o["Key"]] = (o["ETag"], o["Size"], o["LastModified"])
        return found

    def get(self, bucket: str, key: str) -> bytes | None:
        return self.head_and_body(bucket, key)[1]

    def head_and_body(self, bucket: str, key: str) -> tuple[dict, bytes | None]:
        """The object's headers and bytes in one GET; ``({}, None)`` when there is none."""
        try:
            found = self.s3.get_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return {}, None
        return found, found["Body"].read()

    def read(self, bucket: str, keys) -> dict[str, bytes | None]:
        """Just ``keys`` (None where absent): a GET each, not the whole bucket."""
        return {k: self.get(bucket, k) for k in keys}

    def invalidations(self) -> list[list[str]]:
        listing = self.cloudfront.list_invalidations(DistributionId=self.distribution_id)
        found = []
        for item in listing["InvalidationList"].get("Items", []):
            one = self.cloudfront.get_invalidation(
                DistributionId=self.distribution_id, Id=item["Id"]
            )
            found.append(one["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
        return found


def distribution(cloudfront) -> str:
    config = {
        "CallerReference": "railyard-test",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "pwa",
                    "DomainName": "pwa.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "pwa",
            "ViewerProtocolPolicy": "https-only",
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0,
        },
        "Comment": "pwa",
        "Enabled": True,
    }
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def pwa_world(aws: str, alibaba_api: AlibabaApi, edges: list, monkeypatch: pytest.MonkeyPatch):
    world = new_world(aws, alibaba_api, edges)
    world.use(monkeypatch)
    return world


def new_world(aws: str, alibaba_api: AlibabaApi, edges: list) -> PwaWorld:
    """Both buckets and a CloudFront distribution on moto, and an edge in front of each
    bucket (added to ``edges``, for the caller to stop)."""
    s3, cloudfront = moto_client("s3", aws), moto_client("cloudfront", aws)
    s3.create_bucket(Bucket="railyard-dev-pwa")
    s3.create_bucket(Bucket="railyard-dev-pwa-cn")
    dist_id = distribution(cloudfront)
    aws_edge, oss_edge = Edge(s3, "railyard-dev-pwa"), Edge(s3, "railyard-dev-pwa-cn")
    edges += [aws_edge, oss_edge]
    return PwaWorld(
        s3,
        cloudfront,
        dist_id,
        "railyard-dev-pwa",
        "railyard-dev-pwa-cn",
        alibaba_api,
        aws_edge,
        oss_edge,
        oss_endpoint=aws,
    )


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "host", "content-length"}
_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied by bucket policy</Message><RequestId>proxy</RequestId></Error>"
)


class RefusingProxy:
    """An S3 endpoint in front of moto that answers 403 AccessDenied where ``refuse(method,
    path)`` says so, as a bucket policy denying some writes would; everything else passes."""

    def __init__(self, upstream: str):
        self.refuse: Callable[[str, str], bool] = lambda method, path: False
        self.refused: list[tuple[str, str]] = []
        self.http = httpx.Client(base_url=upstream, timeout=30)
        proxy = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"  # answers "Expect: 100-continue" at once

            def body(self) -> bytes:
                if "chunked" in self.headers.get("transfer-encoding", "").lower():
                    data = b""
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        data += self.rfile.read(size)
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def forward(self):
                data = self.body()
                path = unquote(urlparse(self.path).path)
                if proxy.refuse(self.command, path):
                    proxy.refused.append((self.command, path))
                    self.reply(403, _ACCESS_DENIED, "application/xml")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                request = proxy.http.build_request(
                    self.command, self.path, headers=headers, content=data
                )
                answer = proxy.http.send(request, stream=True)
                try:
                    raw = b"".join(answer.iter_raw())
                finally:
                    answer.close()
                self.send_response(answer.status_code)
                for key, value in answer.headers.multi_items():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                length = answer.headers.get("content-length", str(len(raw)))
                self.send_header(
                    "content-length", length if self.command == "HEAD" else str(len(raw))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        self.server = LocalServer(Handler)
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.http.close()


def pointers(world: PwaWorld, bucket: str) -> tuple[str | None, str | None, str | None]:
    """(live, previous, last-known-good) as the bucket's records say."""
    stored = world.read(bucket, ("releases/live.json", "releases/last-known-good.json"))
    live = json.loads(stored["releases/live.json"] or "{}")
    good = stored["releases/last-known-good.json"]
    return live.get("release"), live.get("previous"), good and json.loads(good)["release"]
