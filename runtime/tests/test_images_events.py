"""``images promote`` against moto's ECR and ``events publish`` against moto's SQS."""

from __future__ import annotations

import json

import pytest
import typer.main
import typer.testing
from conftest import client, push_image
from typer.testing import CliRunner

from railyard_runtime.cli import app

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module", autouse=True)
def _command_built_once():
    """The CLI's click command, built from ``app`` once for this module: the runner would
    build it again, signatures and all, for every invocation."""
    command = typer.main.get_command(app)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", lambda _app: command)
        yield


def run(*args: str):
    result = CliRunner().invoke(app, ["--json", *args])
    return result, json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def ecr(aws):
    ecr = client("ecr", aws)
    for repo in ("backend/api", "backend/worker"):
        ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE")
    return ecr


def tags_of(ecr, repo: str, digest: str) -> set[str]:
    images = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": digest}])
    return set(images["imageDetails"][0]["imageTags"])


def test_promote_retags_without_pulling_and_is_idempotent(ecr):
    digest = push_image(ecr, "backend/api", "dev_123", "sha256:" + "a" * 64)
    args = [
        "images",
        "promote",
        "--repo",
        "backend/api",
        "--from",
        "dev_123",
        "--to",
        "stage_us_123",
    ]

    first, promoted = run(*args)
    again, repeated = run(*args)

    assert first.exit_code == again.exit_code == 0, first.output + again.output
    assert [p["outcome"] for p in promoted + repeated] == ["tagged", "already-tagged"]
    assert promoted[0]["digest"] == digest
    assert tags_of(ecr, "backend/api", digest) == {"dev_123", "stage_us_123"}
    manifests = ecr.batch_get_image(
        repositoryName="backend/api",
        imageIds=[{"imageTag": "dev_123"}, {"imageTag": "stage_us_123"}],
    )["images"]
    assert manifests[0]["imageManifest"] == manifests[1]["imageManifest"]  # same bytes


def test_promote_refuses_a_tag_that_names_another_image(ecr):
    push_image(ecr, "backend/api", "dev_123", "sha256:" + "a" * 64)
    push_image(ecr, "backend/api", "stage_us_123", "sha256:" + "b" * 64)
    result, error = run(
        "images", "promote", "--repo", "backend/api", "--from", "dev_123", "--to", "stage_us_123"
    )
    assert result.exit_code == 1
    assert "already names another image" in error["error"]


def test_promote_every_image_of_a_release_manifest(ecr, tmp_path):
    api = push_image(ecr, "backend/api", "dev_123", "sha256:" + "c" * 64)
    worker = push_image(ecr, "backend/worker", "dev_456", "sha256:" + "d" * 64)
    manifest = tmp_path / "stage-us.yaml"
    manifest.write_text(
        """\
environment:
  name: staging-us-east-2
  shortName: stage-us
  destinationTagPrefix: stage_us
products:
  - name: product1
    releaseVersion: 1.9.0
    releaseCandidate: 2
    deployments:
      - gitRepoName: public-portal
        gitRepoShortName: portal
        gitCommit: 0930014f81f655d0c50f8172a575fc50128716bd
        workflowBase: s3-upload-portal
        deployTarget: s3
        bucket: portal-stage-us
    images:
      - repoName: backend/api
        sourceTag: dev_123
      - repoName: backend/worker
        sourceTag: dev_456
"""
    )
    result, promoted = run("images", "promote", "--manifest", str(manifest))
    assert result.exit_code == 0, result.output
    assert [(p["repository"], p["targetTag"]) for p in promoted] == [
        ("backend/api", "stage_us_123"),
        ("backend/worker", "stage_us_456"),
    ]
    assert "stage_us_123" in tags_of(ecr, "backend/api", api)
    assert "stage_us_456" in tags_of(ecr, "backend/worker", worker)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("environment: [unclosed", ":1: not valid YAML"),
        ("environment: {name: x}\nproducts: []", ":1: environment.shortName: required field"),
        (
            "environment: {name: x, shortName: x, destinationTagPrefix: p}\nproducts:\n"
            "  - {name: a, releaseVersion: 1.0.0, releaseCandidate: 1,\n"
            "     images: [{repoName: r, sourceTag: dev_1},\n"
            "              {repoName: r, sourceTag: dev_2}]}",
            ":5: products[0].images[1].repoName: image repo 'r' is already listed on line 4",
        ),
        (
            "environment: {name: x, shortName: x, destinationTagPrefix: p}\nproducts:\n"
            "  - {name: a, releaseVersion: 1.0.0, releaseCandidate: 1,\n"
            "     images: [{repoName: r, sourceTag: latest}]}",
            ":4: products[0].images[0].sourceTag: expected <prefix>_<build>",
        ),
    ],
)
def test_bad_manifests_are_refused_before_any_change(ecr, tmp_path, content, message):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(content)
    result, error = run("images", "promote", "--manifest", str(manifest))
    assert result.exit_code == 2
    assert message in error["error"]


def test_promote_arguments_go_together(ecr):
    result, error = run("images", "promote", "--repo", "backend/api", "--from", "dev_1")
    assert result.exit_code == 2
    assert "--repo, --from and --to go together" in error["error"]


@pytest.fixture
def queue(aws, monkeypatch):
    sqs = client("sqs", aws)
    url = sqs.create_queue(QueueName="railyard-dev-events.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    monkeypatch.setenv("RAILYARD_EVENTS_QUEUE_URL", url)
    return sqs, url


EVENT = [
    "events", "publish", "--feature", "PROJ-42", "--env", "dev", "--lane", "android",
    "--phase", "Succeeded", "--workflow-uid", "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
    "--task", "android-build",
]  # fmt: skip


def test_an_event_is_sent_once_with_the_deduplication_id(queue):
    sqs, url = queue
    first, sent = run(*EVENT)
    again, _ = run(*EVENT)  # a retried exit hook

    assert first.exit_code == again.exit_code == 0, first.output
    assert sent["deduplicationId"] == "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6/android-build/Succeeded"
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert {k: body[k] for k in ("feature", "env", "lane", "phase", "task")} == {
        "feature": "PROJ-42",
        "env": "dev",
        "lane": "android",
        "phase": "Succeeded",
        "task": "android-build",
    }
    assert body["workflowUid"] == "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"
    assert messages[0]["Attributes"]["MessageGroupId"] == "PROJ-42"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--lane", "ios"), "'ios' is not one of"),
        (("--phase", "Done"), "'Done' is not one of"),
        (("--feature", "two words"), "--feature: String should match pattern"),
    ],
)
def test_bad_events_exit_2(queue, change, message):
    args = list(EVENT)
    args[args.index(change[0]) + 1] = change[1]
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_events_need_a_fifo_queue(queue, monkeypatch):
    monkeypatch.setenv("RAILYARD_EVENTS_QUEUE_URL", "http://127.0.0.1/123/standard")
    result, error = run(*EVENT)
    assert result.exit_code == 2
    assert "must be a FIFO queue" in error["error"]
