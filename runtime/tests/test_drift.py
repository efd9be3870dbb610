"""``report drift``: the last successful release against what runs, on real local services.

moto holds ECR (the released images), S3 (the PWA and, through the OSS client code, the APK
bucket), SQS (the events) and DynamoDB (the events history); an HTTP server on 127.0.0.1 stands
in for the Kubernetes API; CDN edges serve the PWA buckets.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import LocalServer, QuietHandler, push_image
from pwa_helpers import PwaWorld, invoke, make_build, moto_client, pwa_world

from railyard_runtime.apk_release import ApkRelease
from railyard_runtime.environment import StepsEnv
from railyard_runtime.events import Lane, Phase, PipelineEvent
from railyard_runtime.history import EventHistory
from railyard_runtime.kanban import cards
from railyard_runtime.report import drift

ENV = "prod"
FEATURE = "PROJ-7"
CRON_UID = "5e6f7a8b-drift-0001"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
REPO = "backend/api"
SHA = "9f2c4e1b7a3d5c8e0f1a2b3c4d5e6f7a8b9c0d1e"
OLD = "0123456789abcdef0123456789abcdef01234567"
APK_BUCKET = "railyard-prod-apks"
NAMESPACE = "backend"
LABELS = {"app": "api", "tier": "backend"}


# --- the Kubernetes API stand-in ----------------------------------------------------------


def pod(name: str, digest: str, labels=LABELS, phase="Running", **meta) -> dict:
    """A pod of the api (image by tag, imageID by digest) with a sidecar of another registry."""
    image = f"{REGISTRY}/{REPO}:{SHA}"
    sidecar = "docker.io/istio/proxyv2:1.24.0"
    return {
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(labels), **meta},
        "spec": {
            "containers": [{"name": "api", "image": image}, {"name": "proxy", "image": sidecar}]
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "api", "image": image, "imageID": f"{REGISTRY}/{REPO}@{digest}"},
                {
                    "name": "proxy",
                    "image": sidecar,
                    "imageID": "docker.io/istio/proxyv2@sha256:" + "e" * 64,
                },
            ],
        },
    }


class Kube:
    """GET of the workload (deployment or rollout) and of pods by label selector, paged by
    ``limit``/``continue`` as the API server does."""

    def __init__(self):
        self.workloads: dict[str, dict] = {}
        self.pods: list[dict] = []
        self.requests: list[str] = []
        lock = threading.Lock()
        kube = self

        class Handler(QuietHandler):
            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with lock:
                    kube.requests.append(self.path)
                if url.path in kube.workloads:
                    return self.reply(200, json.dumps(kube.workloads[url.path]).encode())
                if url.path == f"/api/v1/namespaces/{NAMESPACE}/pods":
                    return self.reply(200, json.dumps(kube.pod_list(query)).encode())
                return self.reply(404, b'{"kind": "Status", "code": 404}')

        self.server = LocalServer(Handler)
        self.url = self.server.url

    def pod_list(self, query: dict[str, str]) -> dict:
        wanted = dict(pair.split("=", 1) for pair in query.get("labelSelector", "").split(","))
        chosen = [p for p in self.pods if wanted.items() <= p["metadata"]["labels"].items()]
        start = int(query.get("continue", "0"))
        end = start + int(query.get("limit", "500"))
        meta = {"continue": str(end)} if end < len(chosen) else {}
        return {"kind": "PodList", "metadata": meta, "items": chosen[start:end]}

    def workload(self, kind: str, name: str = "api") -> None:
        if kind == "deployment":
            path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}"
        else:
            path = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/rollouts/{name}"
        self.workloads[path] = {
            "metadata": {"name": name, "namespace": NAMESPACE, "generation": 3},
            "spec": {"selector": {"matchLabels": LABELS}},
        }


# --- the world the last release left -----------------------------------------------------


def release_events(
    uid: str, commit: str, end: datetime, phase: str = "Succeeded", rolled_back: bool = False
) -> list[PipelineEvent]:
    """A unified release of ``commit`` whose run ended at ``end``."""
    every = timedelta(minutes=1)
    events = cards.happy_path(FEATURE, ENV, uid, end - 8 * every, every)
    change = {"template": "unified-release", "commit": commit}
    out = [e.model_copy(update=change) for e in events]
    out[-1] = out[-1].model_copy(update={"phase": Phase(phase)})
    if rolled_back:
        out.insert(
            -1,
            out[0].model_copy(
                update={
                    "lane": Lane.BACKEND,
                    "task": "backend-rollback",
                    "phase": Phase.SUCCEEDED,
                    "rolled_back": True,
                    "time": end - every / 2,
                }
            ),
        )
    return out


@dataclass
class World:
    aws: str
    pwa: PwaWorld
    kube: Kube
    queue_url: str
    history: EventHistory
    new: str
    """The digest of backend/api:SHA."""
    old: str
    """The digest of backend/api:OLD."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def record(self, *runs: list[PipelineEvent]) -> None:
        for run in runs:
            for event in run:
                self.history.record(event)

    def publish_apk(self, commit: str) -> None:
        record = ApkRelease(
            env=ENV,
            commit=commit,
            feature=FEATURE,
            apk=f"releases/{ENV}/{commit}.apk",
            built_from=f"oss://{APK_BUCKET}/apks/{commit}/job-1.apk",
        )
        self.s3.put_object(
            Bucket=APK_BUCKET,
            Key=f"releases/{ENV}/latest.json",
            Body=record.model_dump_json(by_alias=True).encode(),
        )

    @property
    def s3(self):
        return moto_client("s3", self.aws)

    def drift(self, *extra: str):
        result = invoke(
            ["--json", "report", "drift", "--env", ENV, "--workflow-uid", CRON_UID, *extra]
        )
        got = json.loads(result.stdout) if result.stdout.strip() else None
        return result, got

    def metrics(self) -> dict[str, list[float]]:
        """Every Drift value put per target (the Maximum of each minute)."""
        cloudwatch = moto_client("cloudwatch", self.aws)
        found = {}
        for metric in cloudwatch.list_metrics(Namespace="Railyard/Delivery")["Metrics"]:
            assert metric["MetricName"] == "Drift"
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dims["Env"] == ENV
            points = cloudwatch.get_metric_statistics(
                Namespace="Railyard/Delivery",
                MetricName="Drift",
                Dimensions=metric["Dimensions"],
                StartTime=self.now - timedelta(hours=1),
                EndTime=self.now + timedelta(hours=1),
                Period=60,
                Statistics=["Maximum"],
            )["Datapoints"]
            found[dims["Target"]] = [p["Maximum"] for p in points]
        return found

    def sent(self) -> list[dict]:
        sqs = moto_client("sqs", self.aws)
        answer = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
        )
        return [
            {
                **json.loads(m["Body"]),
                "group": m["Attributes"]["MessageGroupId"],
                "dedup": m["Attributes"]["MessageDeduplicationId"],
            }
            for m in answer.get("Messages", [])
        ]


@pytest.fixture
def world(aws, alibaba_api, edges, events_table, feed_clients, monkeypatch, tmp_path):
    """The last release (SHA) everywhere: images, two pods, the PWA, the APK, the history."""
    ecr = moto_client("ecr", aws)
    ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    new = push_image(ecr, REPO, SHA, "sha256:" + "a" * 64)
    old = push_image(ecr, REPO, OLD, "sha256:" + "b" * 64)

    pwa = pwa_world(aws, alibaba_api, edges, monkeypatch)
    pwa.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", SHA)

    sqs = moto_client("sqs", aws)
    queue_url = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    kube = Kube()
    kube.workload("deployment")
    kube.pods = [
        pod("api-7d9f-a", new),
        pod("api-7d9f-b", new),
        # another workload's pod on the old image: not the backend's
        pod("worker-1", old, labels={"app": "worker", "tier": "backend"}),
    ]
    made = World(aws, pwa, kube, queue_url, EventHistory(feed_clients[1], events_table), new, old)
    pwa.s3.create_bucket(Bucket=APK_BUCKET)
    made.publish_apk(SHA)
    for key, value in {
        StepsEnv.EVENTS_TABLE: events_table,
        StepsEnv.EVENTS_QUEUE_URL: queue_url,
        StepsEnv.KUBE_API_URL: kube.url,
        StepsEnv.BACKEND_NAMESPACE: NAMESPACE,
        StepsEnv.BACKEND_WORKLOAD: "deployment/api",
        StepsEnv.ECR_REGISTRY: REGISTRY,
        StepsEnv.SCAN_IMAGES: REPO,
        StepsEnv.APK_BUCKET: APK_BUCKET,
    }.items():
        monkeypatch.setenv(key, value)
    yield made
    kube.server.stop()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def findings(got: dict) -> dict[str, dict]:
    return {f["target"]: f for f in got["findings"]}


def served_release_sha(world: World, key: str) -> str:
    record = json.loads(world.pwa.get(world.pwa.aws_bucket, f"releases/{SHA}.json"))
    return record["files"][key]["sha256"]


def pwa_ok(world: World, files: int = 4) -> dict:
    return {
        "target": "pwa",
        "ok": True,
        "checked": True,
        "expected": f"release {SHA} on aws, alibaba",
        "found": f"aws: release {SHA}, 2/2 CDN files match; "
        f"alibaba: release {SHA}, 2/2 CDN files match",
        "detail": f"every CDN serves release {SHA} ({files} files)",
    }


def android_ok() -> dict:
    return {
        "target": "android",
        "ok": True,
        "checked": True,
        "expected": f"commit {SHA}",
        "found": f"commit {SHA} (releases/{ENV}/{SHA}.apk, feature {FEATURE})",
        "detail": f"releases/{ENV}/latest.json names the release's commit",
    }


# --- the cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["deployment", "rollout"])
def test_no_drift_puts_a_zero_for_each_target_and_sends_nothing(world, monkeypatch, kind):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    if kind == "rollout":
        world.kube.workloads.clear()
        world.kube.workload("rollout")
        monkeypatch.setenv(StepsEnv.BACKEND_WORKLOAD, "rollout/api")
        monkeypatch.setattr(
            drift.kube, "POD_PAGE", 1
        )  # one pod a page: the continue token is followed

    result, got = world.drift()

    assert result.exit_code == 0, result.output
    assert got["release"] == {"workflowUid": "r1", "commit": SHA, "feature": FEATURE}
    assert got["findings"] == [
        {
            "target": "backend",
            "ok": True,
            "checked": True,
            "expected": f"{REPO}@{world.new}",
            "found": f"{REPO}@{world.new} (2 pods)",
            "detail": f"2 running pods of {kind}/api in {NAMESPACE} run the images tagged {SHA}",
        },
        pwa_ok(world),
        android_ok(),
    ]
    assert (got["metricsPut"], got["events"]) == (3, [])
    assert world.metrics() == {"backend": [0.0], "pwa": [0.0], "android": [0.0]}
    assert world.sent() == []
    pod_requests = [r for r in world.kube.requests if "/pods" in r]
    assert all("labelSelector=app%3Dapi%2Ctier%3Dbackend" in r for r in pod_requests)
    assert len(pod_requests) == (2 if kind == "rollout" else 1)
    # read only: the check marked nothing last-known-good anew, wrote nothing to the buckets
    assert world.pwa.get(world.pwa.aws_bucket, "releases/last-known-good.json") is None


def test_a_pod_on_an_old_digest_is_backend_drift_on_the_card_and_the_metric(world):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    world.kube.pods[1] = pod("api-6c1e-z", world.old)

    result, got = world.drift()

    assert result.exit_code == 1
    backend = findings(got)["backend"]
    detail = f"pod api-6c1e-z runs {REPO}@{world.old}, not {world.new}"
    assert backend == {
        "target": "backend",
        "ok": False,
        "checked": True,
        "expected": f"{REPO}@{world.new}",
        "found": "; ".join(f"{REPO}@{digest} (1 pod)" for digest in sorted((world.new, world.old))),
        "detail": detail,
    }
    assert findings(got)["pwa"] == pwa_ok(world)
    assert findings(got)["android"] == android_ok()
    assert result.stderr.splitlines() == [
        f"drift in {ENV} against release r1 ({SHA}):",
        f"backend: {detail}",
    ]
    assert got["events"] == [f"{CRON_UID}/drift/Failed"]
    [event] = world.sent()
    assert event == {
        "feature": FEATURE,
        "env": ENV,
        "lane": "backend",
        "phase": "Failed",
        "workflowUid": CRON_UID,
        "task": "drift",
        "time": event["time"],
        "template": "drift-check",  # marks the card, is no release the keys count
        "commit": SHA,
        "rolledBack": False,
        "group": FEATURE,
        "dedup": f"{CRON_UID}/drift/Failed",
    }
    assert world.metrics() == {"backend": [1.0], "pwa": [0.0], "android": [0.0]}


def test_latest_json_naming_another_commit_is_android_drift(world):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    world.publish_apk(OLD)

    result, got = world.drift()

    assert result.exit_code == 1
    assert findings(got)["android"] == {
        "target": "android",
        "ok": False,
        "checked": True,
        "expected": f"commit {SHA}",
        "found": f"commit {OLD} (releases/{ENV}/{OLD}.apk, feature {FEATURE})",
        "detail": f"releases/{ENV}/latest.json names commit {OLD}, not {SHA}",
    }
    assert [f["ok"] for f in got["findings"]] == [True, True, False]
    assert [(e["lane"], e["task"], e["dedup"]) for e in world.sent()] == [
        ("android", "drift", f"{CRON_UID}/drift/Failed")
    ]
    assert world.metrics() == {"backend": [0.0], "pwa": [0.0], "android": [1.0]}


def test_a_cdn_serving_other_sw_js_bytes_is_pwa_drift(world):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    other = b"// a service worker nobody released\n"
    world.pwa.s3.put_object(Bucket=world.pwa.aws_bucket, Key="sw.js", Body=other)

    result, got = world.drift()

    assert result.exit_code == 1
    assert findings(got)["pwa"] == {
        "target": "pwa",
        "ok": False,
        "checked": True,
        "expected": f"release {SHA} on aws, alibaba",
        "found": f"aws: release {SHA}, 1/2 CDN files match; "
        f"alibaba: release {SHA}, 2/2 CDN files match",
        "detail": f"{world.pwa.aws_edge.url}/sw.js served {sha256(other)}, the release has "
        f"{served_release_sha(world, 'sw.js')}",
    }
    assert [(e["lane"], e["task"], e["phase"]) for e in world.sent()] == [
        ("pwa", "drift", "Failed")
    ]
    assert world.metrics() == {"backend": [0.0], "pwa": [1.0], "android": [0.0]}


def test_several_drifting_targets_get_an_event_each(world):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    world.kube.pods = [pod("api-6c1e-z", world.old)]
    world.publish_apk(OLD)

    result, got = world.drift()

    assert result.exit_code == 1
    assert got["events"] == [f"{CRON_UID}/drift-backend/Failed", f"{CRON_UID}/drift-android/Failed"]
    assert [(e["lane"], e["task"]) for e in world.sent()] == [
        ("backend", "drift-backend"),
        ("android", "drift-android"),
    ]
    assert world.metrics() == {"backend": [1.0], "pwa": [0.0], "android": [1.0]}


def test_no_running_pod_at_all_is_drift(world):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    world.kube.pods = [
        pod("api-old", world.new, deletionTimestamp="2026-11-23T02:00:00Z"),  # going away
        pod("api-new", world.new, phase="Pending"),
    ]

    result, got = world.drift()

    assert result.exit_code == 1
    assert findings(got)["backend"] == {
        "target": "backend",
        "ok": False,
        "checked": True,
        "expected": f"{REPO}@{world.new}",
        "found": "no running pod",
        "detail": f"no running pod of deployment/api in {NAMESPACE} "
        "(selector app=api,tier=backend)",
    }


def test_no_successful_release_yet_checks_and_puts_nothing(world):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1), phase="Failed"))

    result, got = world.drift()

    assert result.exit_code == 0, result.output
    assert got == {"release": None, "findings": []}
    assert world.metrics() == {}
    assert world.sent() == []
    assert world.kube.requests == []
    human = invoke(["report", "drift", "--env", ENV, "--workflow-uid", CRON_UID])
    assert human.exit_code == 0
    assert "no successful release in prod in the last 30 days" in human.stdout


def test_a_kubernetes_api_that_is_down_leaves_backend_unchecked_and_checks_the_rest(
    world, monkeypatch
):
    world.record(release_events("r1", SHA, world.now - timedelta(hours=1)))
    gone = LocalServer(QuietHandler)
    gone.stop()  # nothing listens there any more
    monkeypatch.setenv(StepsEnv.KUBE_API_URL, gone.url)

    result, got = world.drift()

    assert result.exit_code == 1
    backend = findings(got)["backend"]
    assert backend["detail"].startswith("could not be checked: ConnectError: ")
    assert {k: backend[k] for k in ("ok", "checked", "expected", "found")} == {
        "ok": False,
        "checked": False,
        "expected": f"images tagged {SHA}",
        "found": "unknown",
    }
    assert findings(got)["pwa"] == pwa_ok(world)
    assert findings(got)["android"] == android_ok()
    assert "Traceback" not in result.output
    # not known to match: the metric says so; the card shows only differences seen
    assert world.metrics() == {"backend": [1.0], "pwa": [0.0], "android": [0.0]}
    assert got["events"] == [] and world.sent() == []
    human = invoke(
        ["report", "drift", "--env", ENV, "--workflow-uid", CRON_UID, "--no-put-metrics"]
    )
    assert human.exit_code == 1
    assert "NOT CHECKED" in human.stdout and "backend: could not be checked" in human.stderr


def test_a_rolled_back_last_run_is_not_the_last_successful_release(world):
    world.record(
        release_events("r1", SHA, world.now - timedelta(hours=3)),
        release_events("r2", OLD, world.now - timedelta(hours=1), rolled_back=True),
    )

    result, got = world.drift("--no-put-metrics")

    assert result.exit_code == 0, result.output
    assert got["release"] == {"workflowUid": "r1", "commit": SHA, "feature": FEATURE}
    assert [f["ok"] for f in got["findings"]] == [True, True, True]
    assert got["metricsPut"] == 0 and world.metrics() == {}


def test_last_release_is_the_latest_deployed_unified_release_with_a_commit():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    train = [
        e.model_copy(update={"template": "release-train"})
        for e in release_events("train", OLD, now - hour)
    ]
    no_commit = [
        e.model_copy(update={"commit": None}) for e in release_events("bare", OLD, now - 2 * hour)
    ]
    other_env = [e.model_copy(update={"env": "dev"}) for e in release_events("dev", OLD, now)]
    going = release_events("going", OLD, now)[:-1]  # no end yet
    history = [
        *release_events("r1", SHA, now - 5 * hour),
        *release_events("r2", OLD, now - 4 * hour),
        *release_events("r3", SHA, now - 3 * hour, phase="Error"),
        *release_events("r4", OLD, now - 2.5 * hour, rolled_back=True),
        *train,
        *no_commit,
        *other_env,
        *going,
    ]
    found = drift.last_release(reversed(history), ENV)  # in any order
    assert found is not None and (found.uid, found.commit) == ("r2", OLD)
    assert drift.feature_of(found) == FEATURE
    assert drift.last_release(going + train, ENV) is None


def test_the_targets_are_the_metric_s_targets_and_each_has_its_lane():
    from typing import get_args

    from railyard_runtime.report import metrics
    from railyard_runtime.report.drift.findings import TargetName

    assert get_args(TargetName) == metrics.DRIFT_TARGETS == drift.TARGETS
    assert {t: drift.LANES[t].value for t in drift.TARGETS} == {t: t for t in drift.TARGETS}
