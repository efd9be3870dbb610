"""Real local services for the runtime's tests, all on 127.0.0.1.

- AWS: moto's ThreadedMotoServer (S3, CloudFront, ECR, SQS over real HTTP), reset per test.
- OSS: a second bucket on that server, reached through the same S3-compatible client code the
  steps use for OSS (moto refuses the SDK's OSS4 signatures).
- Alibaba OpenAPI (CDN refresh, KMS): a recording HTTP server that the official SDK clients
  talk to; it checks each request is an ACS3-signed call of the expected action.
- CDN edges: an HTTP server that serves a bucket's objects, as CloudFront/Alibaba CDN would.
- Build agents: the real ``railyard-agent`` process (see agents.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest
from moto import backends as moto_backends
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
ALIBABA_REGION = "cn-hangzhou"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with pytest.MonkeyPatch.context() as patch:
        # moto lists and stats its own package folder on every request to route it; the
        # listing never changes while it runs
        modules = tuple(moto_backends.list_of_moto_modules())
        patch.setattr(moto_backends, "list_of_moto_modules", lambda: modules)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto, and the environment every AWS client of the steps reads."""
    reset_moto(moto_endpoint)
    use_moto(moto_endpoint, monkeypatch)
    return moto_endpoint


def reset_moto(moto_endpoint: str) -> None:
    # plain HTTP: verify=False spares loading a CA bundle for every test
    httpx.post(f"{moto_endpoint}/moto-api/reset", timeout=10, verify=False).raise_for_status()


def use_moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment every AWS client of the steps reads, pointing at moto."""
    for key, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "alibaba-testing",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "alibaba-testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def push_image(ecr, repo: str, tag: str, config_digest: str) -> str:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": config_digest,
            },
            # moto derives the image digest from the layers: one of its own per image
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1024,
                    "digest": "sha256:" + config_digest[-1] * 64,
                }
            ],
        }
    )
    answer = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    return answer["image"]["imageId"]["imageDigest"]


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a handler class; stopped by the fixture."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that answers in one call and keeps the test output clean."""

    def reply(self, status: int, data: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


class AlibabaApi:
    """Records OpenAPI calls; answers RefreshObjectCaches and GetSecretValue."""

    def __init__(self):
        self.calls: list[dict] = []
        self.secrets: dict[str, str] = {}
        api = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                query = parse_qs(urlparse(self.path).query) | parse_qs(body)
                call = {
                    "action": self.headers.get("x-acs-action"),
                    "version": self.headers.get("x-acs-version"),
                    "authorization": self.headers.get("authorization", ""),
                    "access_key_id": self.headers.get("x-acs-accesskey-id"),
                    "security_token": self.headers.get("x-acs-security-token"),
                    "params": {k: v[0] for k, v in query.items()},
                }
                api.calls.append(call)
                status, answer = api.answer(call)
                self.reply(status, json.dumps(answer).encode())

        self.server = LocalServer(Handler)
        self.url = self.server.url

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point the steps' CDN and KMS clients here."""
        monkeypatch.setenv("RAILYARD_ALIBABA_CDN_ENDPOINT", self.url)
        monkeypatch.setenv("RAILYARD_KMS_ENDPOINT", self.url)

    def answer(self, call: dict) -> tuple[int, dict]:
        if not call["authorization"].startswith("ACS3-HMAC-SHA256 Credential="):
            return 400, {"Code": "MissingSignature", "Message": "unsigned request"}
        if call["action"] == "RefreshObjectCaches" and call["version"] == "2018-05-10":
            return 200, {"RequestId": "req", "RefreshTaskId": str(len(self.calls))}
        if call["action"] == "GetSecretValue" and call["version"] == "2016-01-20":
            name = call["params"].get("SecretName")
            if name in self.secrets:
                return 200, {
                    "RequestId": "req",
                    "SecretName": name,
                    "SecretData": self.secrets[name],
                }
            return 404, {"Code": "Forbidden.ResourceNotFound", "Message": "no such secret"}
        return 400, {"Code": "InvalidAction", "Message": call["action"]}

    def refreshed_paths(self) -> list[list[str]]:
        return [
            c["params"]["ObjectPath"].split("\n")
            for c in self.calls
            if c["action"] == "RefreshObjectCaches"
        ]


@pytest.fixture
def alibaba_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlibabaApi]:
    api = AlibabaApi()
    api.use(monkeypatch)
    yield api
    api.server.stop()


class Edge:
    """A CDN edge in front of one bucket: GET /<key> answers with the object's bytes."""

    def __init__(self, s3, bucket: str):
        class Handler(QuietHandler):
            def do_GET(self):
                key = urlparse(self.path).path.lstrip("/")
                try:
                    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    status = 200
                except s3.exceptions.NoSuchKey:
                    data, status = b"not found", 404
                self.reply(status, data, "application/octet-stream")

        self.server = LocalServer(Handler)
        self.url = self.server.url


@pytest.fixture
def edges() -> Iterator[list[Edge]]:
    started: list[Edge] = []
    yield started
    for edge in started:
        edge.server.stop()


@pytest.fixture(scope="module")
def idle_agent(moto_endpoint: str, tmp_path_factory):
    """One agent for tests that queue nothing (auth, validation, limits)."""
    from agents import Agent

    agent = Agent(tmp_path_factory.mktemp("idle"), moto_endpoint).start()
    yield agent
    agent.stop()


@pytest.fixture
def agents(aws: str, tmp_path):
    """Start agents with ``agents(name, **env)``; all stopped (drained) after the test."""
    from agents import APK_BUCKET, Agent, s3

    s3(aws).create_bucket(Bucket=APK_BUCKET)
    started: list[Agent] = []

    def start(name: str = "agent", **env: str) -> Agent:
        agent = Agent(tmp_path, aws, name, **env).start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def _wait_for_messages(queue, timeout: int) -> None:
    """A long poll's wait between two looks at a moto queue: until a message is sent, or 50 ms.

    moto's own wait returns at once while any message is visible, even one whose FIFO group a
    receive in flight holds, so the long poll spins at full CPU until it ends; looking again
    every 50 ms also hands out a message soon after its visibility timeout runs out.
    """
    with queue._messages_lock:
        queue._messages_lock.wait(timeout=min(timeout, 0.05))


@pytest.fixture(scope="session")
def feed_clients(moto_endpoint: str):
    """SQS and DynamoDB clients of moto: they hold no state of the feed, so one pair serves
    every test (building a client is most of what setting up a feed costs)."""
    return client("sqs", moto_endpoint), client("dynamodb", moto_endpoint)


@pytest.fixture
def feed(aws, feed_clients, monkeypatch: pytest.MonkeyPatch):
    """The Kanban feed: an SQS FIFO queue with its DLQ, and the cards table (moto)."""
    from moto.sqs.models import Queue

    monkeypatch.setattr(Queue, "wait_for_messages", _wait_for_messages)
    sqs, ddb = feed_clients
    dlq = sqs.create_queue(QueueName="events-dlq.fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="events.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 50}),
        },
    )
    ddb.create_table(
        TableName="cards",
        KeySchema=[{"AttributeName": "feature", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "feature", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return sqs, ddb, queue["QueueUrl"], dlq["QueueUrl"]


@pytest.fixture
def events_table(aws, feed_clients) -> str:
    """The bridge's events table (moto), keyed as the stack creates it."""
    from railyard_runtime.history import HASH_KEY, RANGE_KEY

    feed_clients[1].create_table(
        TableName="events",
        KeySchema=[
            {"AttributeName": HASH_KEY, "KeyType": "HASH"},
            {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": HASH_KEY, "AttributeType": "S"},
            {"AttributeName": RANGE_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return "events"
