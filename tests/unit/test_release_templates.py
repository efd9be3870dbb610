"""Release WorkflowTemplates: strict validity, DAG shape, hooks, mutex, size at 1,000 artifacts."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml
from hera.workflows import models as m

from offline.runner import release_settings
from railyard.release_templates import common, size, train, unified
from railyard_runtime.release import manifest as release_manifest

DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
SETTINGS = release_settings("prod")  # the committed prod stack file: approval on


def rendered(s: common.ReleaseSettings = SETTINGS) -> list[dict]:
    return [common.render(unified.workflow_template(s))] + [
        common.render(t) for t in train.all_templates(s)
    ]


def by_name(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs}


def dag(doc: dict, template: str) -> dict[str, dict]:
    found = next(t for t in doc["spec"]["templates"] if t["name"] == template)
    return {t["name"]: t for t in found["dag"]["tasks"]}


@pytest.mark.parametrize("approval", [True, False])
def test_every_template_survives_a_strict_hera_round_trip(approval):
    """hera drops unknown fields silently; equality after a round trip means there were none."""
    for doc in rendered(dataclasses.replace(SETTINGS, requires_approval=approval)):
        again = m.WorkflowTemplate.model_validate(doc)
        assert again.model_dump(by_alias=True, exclude_none=True, mode="json") == doc


def test_the_round_trip_check_catches_a_typo():
    doc = rendered()[0]
    doc["spec"]["templates"][1]["activeDeadlineSecond"] = 5  # typo
    again = m.WorkflowTemplate.model_validate(doc)
    assert again.model_dump(by_alias=True, exclude_none=True, mode="json") != doc


def test_child_workflow_of_the_deployer_is_a_valid_workflow():
    resource = next(t for t in rendered()[1]["spec"]["templates"] if t["name"] == "chunk")
    child = yaml.safe_load(resource["resource"]["manifest"])
    again = m.Workflow.model_validate(child)
    assert again.model_dump(by_alias=True, exclude_none=True, mode="json") == child
    assert child["spec"]["workflowTemplateRef"] == {"name": train.CHUNK}


def test_android_builds_beside_the_backend_and_publishes_only_after_backend_and_pwa():
    tasks = dag(rendered()[0], "release")
    assert tasks["android-build"]["depends"] == "approval.Succeeded"
    assert "backend" not in tasks["android-build"]["depends"]
    assert tasks["android-publish"]["depends"] == (
        "android-build.Succeeded && backend-rollout.Succeeded && pwa-canary.Succeeded"
    )
    assert tasks["pwa-verify"]["depends"] == "pwa-publish.Succeeded"
    assert (
        tasks["backend-rollback"]["depends"] == "backend-rollout.Failed || backend-rollout.Errored"
    )


def test_gates_come_before_anything_deploys_and_approval_only_where_configured():
    tasks = dag(rendered()[0], "release")
    assert tasks["approval"]["depends"] == "scan-images.Succeeded && static-analysis.Succeeded"
    for deploy in ("backend-apply", "pwa-publish", "android-build"):
        assert tasks[deploy]["depends"] == "approval.Succeeded"
    dev = dag(rendered(dataclasses.replace(SETTINGS, requires_approval=False))[0], "release")
    assert "approval" not in dev
    assert dev["backend-apply"]["depends"] == "scan-images.Succeeded && static-analysis.Succeeded"
    suspend = [t for t in rendered()[0]["spec"]["templates"] if "suspend" in t]
    assert [t["name"] for t in suspend] == ["approval"]


def test_scans_block_on_the_configured_severities_for_every_image():
    templates = {t["name"]: t for t in rendered()[0]["spec"]["templates"]}
    args = templates["scan-images"]["container"]["args"]
    images = [args[i + 1] for i, a in enumerate(args) if a == "--image"]
    sha = "{{workflow.parameters.git-commit-sha}}"
    assert images == [f"backend/api:{sha}", f"backend/worker:{sha}"]
    assert args[args.index("--block") + 1] == "CRITICAL,HIGH"


def test_every_dag_task_has_an_exit_hook_that_publishes_its_own_phase():
    for doc in rendered():
        for template in doc["spec"]["templates"]:
            for task in template.get("dag", {}).get("tasks", []):
                hook = task["hooks"]["exit"]
                assert hook["template"] == common.NOTIFY
                values = {p["name"]: p["value"] for p in hook["arguments"]["parameters"]}
                assert values["task"] == task["name"]
                assert values["phase"] == f"{{{{tasks.{task['name']}.status}}}}"


def test_workflows_publish_their_final_phase_on_exit():
    for doc in rendered()[:3]:  # unified, deployer, chunk: the ones submitted as Workflows
        assert doc["spec"]["onExit"] == common.ON_EXIT
        on_exit = next(t for t in doc["spec"]["templates"] if t["name"] == common.ON_EXIT)
        assert "{{workflow.status}}" in on_exit["container"]["args"]


def test_release_and_train_are_mutually_exclusive_per_environment():
    docs = by_name(rendered())
    for name in (unified.NAME, train.DEPLOYER):
        mutexes = docs[name]["spec"]["synchronization"]["mutexes"]
        assert len(mutexes) == 1
        assert mutexes[0]["name"].endswith("-{{workflow.parameters.env}}")
    env = next(
        p for p in docs[unified.NAME]["spec"]["arguments"]["parameters"] if p["name"] == "env"
    )
    assert env["value"] == "prod"


def test_every_pod_template_retries_with_backoff_and_has_a_deadline():
    for doc in rendered():
        for t in doc["spec"]["templates"]:
            if "container" in t:
                assert t["retryStrategy"]["backoff"]["factor"] == 2, t["name"]
                assert t["activeDeadlineSeconds"] > 0, t["name"]
                assert t["tolerations"][0]["key"] == common.WORKFLOW_TAINT_KEY


def test_every_image_is_pinned_by_digest():
    images = [
        t["container"]["image"]
        for doc in rendered()
        for t in doc["spec"]["templates"]
        if "container" in t
    ]
    assert len(images) > 10
    assert all(DIGEST.match(i) for i in images), images


def test_argo_rollouts_services_are_waited_for_and_aborted():
    templates = {t["name"]: t for t in rendered()[0]["spec"]["templates"]}  # prod: rollout/api
    # the steps read the Rollout through the API (generation seen, Healthy or Degraded)
    wait = templates["backend-rollout"]["container"]["args"]
    assert wait[wait.index("deploy") :] == [
        "deploy",
        "rollout",
        "--name",
        "api",
        "--namespace",
        "backend",
        "--timeout",
        "900",
    ]
    assert templates["backend-rollout"]["container"]["image"].startswith("123456789012.dkr.ecr")
    assert "--subresource=status" in templates["backend-rollback"]["container"]["args"]
    dev = {t["name"]: t for t in rendered(release_settings("dev"))[0]["spec"]["templates"]}
    assert dev["backend-rollout"]["container"]["args"][:3] == [
        "rollout",
        "status",
        "deployment/api",
    ]
    assert dev["backend-rollback"]["container"]["args"][:3] == ["rollout", "undo", "deployment/api"]


def manifest_with(artifacts: int) -> release_manifest.Manifest:
    sha = "0930014f81f655d0c50f8172a575fc50128716bd"
    half = artifacts // 2
    deployments = [
        {
            "gitRepoName": f"service-repository-{i}",
            "gitRepoShortName": f"svc-{i}",
            "gitCommit": sha,
            "workflowBase": "s3-upload-portal",
            "deployTarget": "s3",
            "bucket": "portal-assets-bucket",
            "prefix": f"svc-{i}/",
        }
        for i in range(half)
    ]
    images = [
        {"repoName": f"product1/microservice-{i}", "sourceTag": f"dev_{i}"}
        for i in range(artifacts - half)
    ]
    return release_manifest.Manifest.model_validate(
        {
            "environment": {
                "name": "staging",
                "shortName": "stage",
                "destinationTagPrefix": "stage",
            },
            "products": [
                {
                    "name": "product1",
                    "releaseVersion": "1.9.0",
                    "releaseCandidate": 2,
                    "deployments": deployments,
                    "images": images,
                }
            ],
        }
    )


def test_a_1000_artifact_release_keeps_every_workflow_under_256_kb():
    objects = size.train_objects(SETTINGS, manifest_with(1000))
    assert len(objects) == 1 + 25  # the deployer and 25 chunks of 40
    largest = max(objects, key=lambda o: o.bytes)
    assert largest.bytes < 256 * 1024, largest


def test_the_size_model_would_catch_an_unchunked_release():
    """The same 1,000 artifacts in one Workflow: far past the limit, so the check can fail."""
    one = dataclasses.replace(SETTINGS, chunk_size=500)
    largest = max(size.train_objects(one, manifest_with(1000)), key=lambda o: o.bytes)
    assert largest.bytes > 256 * 1024


@pytest.mark.parametrize("kind", ["lambda", "s3", "apigw"])
def test_every_deploy_job_confines_its_source_to_the_checkout(kind):
    """Without --checkout a link in the repository could ship the pod's own files."""
    args = common.render(train.job_template(SETTINGS, kind))["spec"]["templates"][0]["container"][
        "args"
    ]
    assert args[args.index("--checkout") + 1] == common.SOURCE_PATH
    assert args[args.index("--source") + 1].startswith(common.SOURCE_PATH + "/")


def test_every_exit_hook_says_when_its_task_ran_and_only_the_rollback_marks_a_rollback():
    for doc in rendered():
        for template in doc["spec"]["templates"]:
            for task in template.get("dag", {}).get("tasks", []):
                name = task["name"]
                values = {
                    p["name"]: p["value"] for p in task["hooks"]["exit"]["arguments"]["parameters"]
                }
                assert values["started"] == f"{{{{tasks.{name}.startedAt}}}}"
                assert values["finished"] == f"{{{{tasks.{name}.finishedAt}}}}"
                assert values.get("rolled-back", "false") == (
                    "true" if name == unified.ROLLBACK else "false"
                )
    notify = next(t for t in rendered()[0]["spec"]["templates"] if t["name"] == common.NOTIFY)
    args = notify["container"]["args"]
    for flag, value in (
        ("--started", "{{inputs.parameters.started}}"),
        ("--finished", "{{inputs.parameters.finished}}"),
        ("--rolled-back", "{{inputs.parameters.rolled-back}}"),
        ("--commit", "{{workflow.parameters.git-commit-sha}}"),
        ("--commit-time", "{{workflow.parameters.commit-time}}"),
        ("--template", "unified-release"),
    ):
        assert args[args.index(flag) + 1] == value


def test_a_runs_own_event_carries_its_change_and_may_look_up_the_commit_time():
    docs = by_name(rendered())
    expected = {  # template -> (commit, repository)
        unified.NAME: (
            "{{workflow.parameters.git-commit-sha}}",
            "{{workflow.parameters.repository}}",
        ),
        train.DEPLOYER: ("{{workflow.parameters.revision}}", "acme/infrastructure"),
        train.CHUNK: ("{{workflow.parameters.revision}}", "acme/infrastructure"),
    }
    for name, (commit, repository) in expected.items():
        on_exit = next(t for t in docs[name]["spec"]["templates"] if t["name"] == common.ON_EXIT)
        args = on_exit["container"]["args"]
        assert args[args.index("--template") + 1] == name
        assert args[args.index("--commit") + 1] == commit
        assert args[args.index("--repository") + 1] == repository
        assert args[args.index("--started") + 1] == "{{workflow.creationTimestamp}}"
        assert args[args.index("--github-token-file") + 1] == "/var/run/railyard/github/token"
        (volume,) = on_exit["volumes"]
        assert volume["secret"] == {"secretName": common.GITHUB_TOKEN_SECRET, "optional": True}
        declared = {p["name"] for p in docs[name]["spec"]["arguments"]["parameters"]}
        assert common.COMMIT_TIME in declared
    params = {
        p["name"]: p.get("value") for p in docs[unified.NAME]["spec"]["arguments"]["parameters"]
    }
    assert params["repository"] == "acme/backend"  # by hand: the backend's


def test_each_lane_is_delivered_by_a_task_of_that_lane_in_the_unified_release():
    from railyard_runtime.events import LANE_DELIVERY_TASKS

    tasks = dag(rendered()[0], "release")
    for lane, task in LANE_DELIVERY_TASKS.items():
        assert unified.LANES[task] == lane.value
        hook = {
            p["name"]: p["value"] for p in tasks[task]["hooks"]["exit"]["arguments"]["parameters"]
        }
        assert hook["lane"] == lane.value
