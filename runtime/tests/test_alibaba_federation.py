"""Release pods reach OSS and the Alibaba CDN with STS keys from OIDC federation, no stored key.

A pod on EKS has a projected service-account token; the steps exchange it at Alibaba STS
(``AssumeRoleWithOIDC``) for a RAM role's short-lived keys and send the session token on every
request: ``X-Amz-Security-Token`` on OSS's S3-compatible API, ``x-acs-security-token`` on the
CDN OpenAPI. Here STS is a stand-in on 127.0.0.1, OSS is moto behind a recording proxy and the
CDN is the recording OpenAPI server; the CLI runs exactly as in a workflow pod.
"""

from __future__ import annotations

import http.client
import importlib
import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import LocalServer, QuietHandler
from pwa_helpers import make_build, pwa_world

ROLE_ARN = "acs:ram::1234567890123456:role/railyard-dev-release"
PROVIDER_ARN = "acs:ram::1234567890123456:oidc-provider/railyard-dev-eks"
POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.pod-token.sig"
STS_KEY, STS_TOKEN = "STS.NUfederated", "CAIS-session-token"


class Sts:
    """AssumeRoleWithOIDC as Alibaba STS answers it (GET, query parameters, JSON)."""

    def __init__(self):
        self.requests: list[dict[str, str]] = []
        sts = self

        class Handler(QuietHandler):
            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                sts.requests.append(query)
                self.reply(*sts.answer(query))

        self.server = LocalServer(Handler)
        self.url = self.server.url

    def answer(self, q: dict[str, str]) -> tuple[int, bytes]:
        if (q.get("Action"), q.get("Version")) != ("AssumeRoleWithOIDC", "2015-04-01"):
            return 400, b'{"Code": "InvalidAction"}'
        if (q.get("OIDCToken"), q.get("RoleArn"), q.get("OIDCProviderArn")) != (
            POD_TOKEN,
            ROLE_ARN,
            PROVIDER_ARN,
        ):
            return 400, b'{"Code": "AuthenticationFail.OIDCToken.Invalid", "Message": "sub"}'
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        credentials = {
            "AccessKeyId": STS_KEY,
            "AccessKeySecret": "sts-secret",
            "SecurityToken": STS_TOKEN,
            "Expiration": expires,
        }
        return 200, json.dumps({"RequestId": "r", "Credentials": credentials}).encode()


class RecordingProxy:
    """Forwards every request to ``upstream`` and keeps its method, path and headers."""

    def __init__(self, upstream: str):
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        target = urlparse(upstream)
        proxy = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def forward(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                proxy.requests.append((self.command, self.path, dict(self.headers.items())))
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for k, v in answer.getheaders():
                        if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

        self.server = LocalServer(Handler)
        self.url = self.server.url


@pytest.fixture
def federated(aws, alibaba_api, edges, monkeypatch, tmp_path):
    """A release pod: OIDC variables and a token file, and no Alibaba key anywhere."""
    world = pwa_world(aws, alibaba_api, edges, monkeypatch)
    # The SDK's default chain reads its variables once, when first imported: import it before
    # the OIDC variables below are set, or later tests in this process would inherit them.
    importlib.import_module("alibabacloud_credentials.utils.auth_util")
    sts, oss = Sts(), RecordingProxy(aws)
    token = tmp_path / "token"
    token.write_text(POD_TOKEN)
    for key in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER_ARN,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token),
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "RAILYARD_ALIBABA_STS_ENDPOINT": sts.url,
        "RAILYARD_OSS_ENDPOINT": oss.url,
    }.items():
        monkeypatch.setenv(key, value)
    yield world, sts, oss, token
    sts.server.stop()
    oss.server.stop()


def test_publish_signs_oss_and_cdn_calls_with_the_federated_session(federated, tmp_path):
    world, sts, oss, _ = federated
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")

    assert sts.requests and all(q["OIDCToken"] == POD_TOKEN for q in sts.requests)
    assert {q["RoleSessionName"] for q in sts.requests} == {"railyard-steps"}
    assert oss.requests, "nothing reached OSS"
    for method, path, headers in oss.requests:
        assert headers.get("X-Amz-Security-Token") == STS_TOKEN, (method, path)
        assert f"Credential={STS_KEY}/" in headers["Authorization"], (method, path)
    assert b"sw v1" in world.objects(world.oss_bucket)["sw.js"]
    (refresh,) = [c for c in world.alibaba.calls if c["action"] == "RefreshObjectCaches"]
    assert (refresh["access_key_id"], refresh["security_token"]) == (STS_KEY, STS_TOKEN)


def test_a_refused_exchange_fails_cleanly_before_anything_is_written(federated, tmp_path):
    world, sts, oss, token = federated
    token.write_text("eyJhbGciOiJSUzI1NiJ9.another-service-account.sig")
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 1
    assert "Alibaba credentials" in result.output and "AuthenticationFail" in result.output
    assert "Traceback" not in result.output
    assert sts.requests and not oss.requests
    assert world.objects(world.oss_bucket) == {}


def test_sts_out_of_reach_is_unreachable_not_a_traceback(federated, tmp_path, monkeypatch):
    world, sts, _, _ = federated
    sts.server.stop()
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 3, result.output
    assert "Alibaba credentials" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_ROLE_ARN not set"),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN not set"),
    ],
)
def test_half_configured_federation_is_bad_input(federated, tmp_path, monkeypatch, unset, named):
    world, sts, _, _ = federated
    monkeypatch.delenv(unset)
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 2 and named in result.output
    assert not sts.requests


def test_a_missing_token_file_names_the_mount(federated, tmp_path):
    world, _, _, token = federated
    token.unlink()
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 2
    assert "ALIBABA_CLOUD_OIDC_TOKEN_FILE" in result.output and "projected" in result.output


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "does not hold a JWT"),
        (b"\xff\xfe not utf-8 \x00", "does not hold a JWT"),
        (b"x" * (70 * 1024), "is larger than 65,536 bytes"),
    ],
)
def test_a_token_file_that_is_not_a_token_is_bad_input(federated, tmp_path, content, why):
    world, sts, _, token = federated
    token.write_bytes(content)
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 2 and why in result.output, result.output
    assert "Traceback" not in result.output and not sts.requests


def test_a_directory_as_token_file_is_bad_input(federated, tmp_path, monkeypatch):
    world, sts, _, _ = federated
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(tmp_path))
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 2 and "is a directory, not a regular file" in result.output
    assert not sts.requests
