"""Delivery you can see, as the real program registers it for dev and prod: the events
history, the reports' CronWorkflows, the release dashboard, the PWA canary and its gate."""

from __future__ import annotations

import json
import re

import pytest

from components import pwa_canary
from offline.mocks import FAKE_ACCOUNT
from railyard.release_templates import schedules
from railyard_runtime import history
from railyard_runtime.environment import BridgeEnv, CanaryEnv, StepsEnv
from railyard_runtime.events import LANE_DELIVERY_TASKS
from railyard_runtime.report import metrics
from tests.harness import k8s_named, plan_for, role_policy_statements

STACKS = ("dev", "prod")
TABLE = "aws:dynamodb/table:Table"
CRON = "kubernetes:argoproj.io/v1alpha1:CronWorkflow"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"


def events_table(plan):
    (table,) = [t for t in plan.of_type(TABLE) if t.name.endswith("-kanban-events")]
    return table


def table_arn(table) -> str:
    return f"arn:aws:dynamodb:us-east-1:{FAKE_ACCOUNT}:table/{table.id}"


def canary(plan):
    return plan.one("aws:synthetics/canary:Canary")


@pytest.mark.parametrize("stack", STACKS)
def test_the_events_history_is_keyed_by_environment_and_time_and_expires(stack):
    table = events_table(plan_for(stack)).inputs
    assert (table["hashKey"], table["rangeKey"]) == (history.HASH_KEY, history.RANGE_KEY)
    assert table["attributes"] == [
        {"name": history.HASH_KEY, "type": "S"},
        {"name": history.RANGE_KEY, "type": "S"},
    ]
    assert table["ttl"] == {"attributeName": history.EXPIRES, "enabled": True}
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["deletionProtectionEnabled"] is (stack == "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_the_bridge_keeps_the_history_and_may_only_append_to_it(stack):
    plan = plan_for(stack)
    table = events_table(plan)
    bridge = k8s_named(plan, "Deployment", "railyard-bridge")
    env = {
        e["name"]: e["value"]
        for e in bridge.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env[BridgeEnv.EVENTS_TABLE] == table.id
    assert env[BridgeEnv.CLOUDWATCH_METRICS] == "on"
    granted = role_policy_statements(plan, "-kanban-bridge")
    assert {
        "Effect": "Allow",
        "Action": "dynamodb:PutItem",
        "Resource": table_arn(table),
    } in granted
    (put_metrics,) = [s for s in granted if s["Action"] == "cloudwatch:PutMetricData"]
    assert put_metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}}


@pytest.mark.parametrize("stack", STACKS)
def test_release_pods_read_the_history_put_the_figures_and_watch_the_canary(stack):
    plan = plan_for(stack)
    granted = role_policy_statements(plan, "-release-workflows")
    table = events_table(plan)
    assert {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": table_arn(table)} in granted
    gate = {
        "Effect": "Allow",
        "Action": "synthetics:GetCanaryRuns",
        "Resource": canary(plan).outputs["arn"],
    }
    assert gate in granted
    (put_metrics,) = [s for s in granted if s["Action"] == "cloudwatch:PutMetricData"]
    assert put_metrics["Condition"]["StringEquals"]["cloudwatch:namespace"] == metrics.NAMESPACE
    config = k8s_named(plan, "ConfigMap", "railyard-release-env").inputs["data"]
    assert config[StepsEnv.EVENTS_TABLE] == table.id
    assert config[StepsEnv.PWA_CANARY] == f"railyard-{stack}-pwa"
    assert config[StepsEnv.SCAN_IMAGES] == "backend/api,backend/worker"
    assert config[StepsEnv.ECR_REGISTRY] == f"{FAKE_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert config[StepsEnv.BACKEND_WORKLOAD] == (
        "rollout/api" if stack == "prod" else "deployment/api"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_reports_run_on_schedules_with_the_steps_image(stack):
    plan = plan_for(stack)
    crons = {c.inputs["metadata"]["name"]: c.inputs["spec"] for c in plan.of_type(CRON)}
    assert set(crons) == {schedules.METRICS, schedules.DRIFT}
    metrics_spec, drift_spec = crons[schedules.METRICS], crons[schedules.DRIFT]
    assert metrics_spec["schedules"] == ["17 * * * *"]
    assert drift_spec["schedules"] == ["*/30 * * * *"]
    for spec in (metrics_spec, drift_spec):
        assert spec["concurrencyPolicy"] == "Forbid" and spec["timezone"] == "UTC"
        (main,) = spec["workflowSpec"]["templates"]
        assert re.search(r"@sha256:[0-9a-f]{64}$", main["container"]["image"])
        assert spec["workflowSpec"]["serviceAccountName"] == "railyard-release"
    args = lambda spec: spec["workflowSpec"]["templates"][0]["container"]["args"]  # noqa: E731
    assert args(metrics_spec) == ["--json", "report", "metrics", "--env", stack, "--since", "30d"]
    assert args(drift_spec) == [
        "--json", "report", "drift", "--env", stack, "--workflow-uid", "{{workflow.uid}}",
    ]  # fmt: skip


@pytest.mark.parametrize("stack", STACKS)
def test_the_canary_loads_the_pwa_with_the_configured_thresholds(stack):
    plan = plan_for(stack)
    c = canary(plan).inputs
    assert c["name"] == f"railyard-{stack}-pwa"
    assert (c["runtimeVersion"], c["handler"]) == ("syn-nodejs-puppeteer-13.0", "canary.handler")
    assert c["schedule"] == {"expression": "rate(5 minutes)"}
    assert c["startCanary"] is True
    assert c["artifactConfig"] == {"s3Encryption": {"encryptionMode": "SSE_S3"}}
    env = c["runConfig"]["environmentVariables"]
    assert set(env) == {v.value for v in CanaryEnv}
    distribution = plan.one("aws:cloudfront/distribution:Distribution")
    aliases = distribution.inputs.get("aliases") or [distribution.outputs["domainName"]]
    assert env[CanaryEnv.URL] == f"https://{aliases[0]}"  # prod: its own domain
    assert (env[CanaryEnv.MAX_LCP_MS], env[CanaryEnv.MAX_CLS]) == ("2500", "0.1")
    assert env[CanaryEnv.METRICS_NAMESPACE] == metrics.NAMESPACE
    assert c["s3Key"] == pwa_canary.script_key()
    (code,) = [
        o
        for o in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if o.inputs.get("key") == c["s3Key"]
    ]
    assert c["s3Bucket"] == code.inputs["bucket"]
    assert c["artifactS3Location"] == f"s3://{code.inputs['bucket']}/runs/"


@pytest.mark.parametrize("stack", STACKS)
def test_the_canary_runs_as_lambda_with_only_what_synthetics_documents(stack):
    plan = plan_for(stack)
    (role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.name.endswith("-canary")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    granted = role_policy_statements(plan, "-canary")
    namespaces = [
        s["Condition"]["StringEquals"]["cloudwatch:namespace"]
        for s in granted
        if s["Action"] == "cloudwatch:PutMetricData"
    ]
    assert namespaces == ["CloudWatchSynthetics", metrics.NAMESPACE]
    logs = next(s for s in granted if "logs:PutLogEvents" in s["Action"])
    assert logs["Resource"].endswith(f":log-group:/aws/lambda/cwsyn-railyard-{stack}-pwa-*")


def test_the_canary_script_reads_exactly_the_variables_the_stack_sets():
    script = pwa_canary.SCRIPT.read_text()
    assert set(re.findall(r"RAILYARD_[A-Z_]+", script)) == {v.value for v in CanaryEnv}
    assert all(f"'{name}'" in script for name in metrics.PWA_TIMINGS)


def test_a_changed_script_is_a_new_key(tmp_path, monkeypatch):
    before = pwa_canary.script_key()
    changed = tmp_path / "canary.js"
    changed.write_text(pwa_canary.SCRIPT.read_text() + "\n// changed\n")
    monkeypatch.setattr(pwa_canary, "SCRIPT", changed)
    assert pwa_canary.script_key() != before
    assert re.fullmatch(r"code/pwa-canary-[0-9a-f]{16}\.zip", pwa_canary.script_key())


@pytest.mark.parametrize("stack", STACKS)
def test_the_dashboard_draws_what_the_reports_and_the_feed_put(stack):
    plan = plan_for(stack)
    dashboard = plan.one("aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == f"railyard-{stack}-delivery"
    body = json.loads(dashboard["dashboardBody"])
    rows = [  # without their rendering options (labels, axes)
        [v for v in row if not isinstance(v, dict)]
        for w in body["widgets"]
        if w["type"] == "metric"
        for row in w["properties"]["metrics"]
    ]
    queues = {q.inputs["name"] for q in plan.of_type("aws:sqs/queue:Queue")}
    sqs_rows = [r for r in rows if r[0] == "AWS/SQS"]
    assert {r[3] for r in sqs_rows} == queues  # the feed's queue (lag) and its DLQ (depth)
    assert ["CloudWatchSynthetics", "SuccessPercent", "CanaryName", f"railyard-{stack}-pwa"] in rows
    ours = {(r[1], tuple(r[2:])) for r in rows if r[0] == metrics.NAMESPACE}
    for key in ("DeploymentsPerDay", "LeadTimeP50", "ChangeFailureRate", "TimeToRestoreP50"):
        for lane in ("all", *(lane.value for lane in LANE_DELIVERY_TASKS)):
            assert (key, ("Env", stack, "Lane", lane)) in ours
    assert {name for name, _ in ours} <= {
        *metrics.KEYS,
        metrics.BRIDGE_ERRORS,
        metrics.DRIFT,
        *metrics.PWA_TIMINGS,
    }
    assert all(
        w["properties"]["region"] == "us-east-1" for w in body["widgets"] if w["type"] == "metric"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_pwa_gate_waits_for_the_canary_before_android_is_published(stack):
    plan = plan_for(stack)
    unified = k8s_named(plan, "WorkflowTemplate", "unified-release").inputs["spec"]
    dag = {
        t["name"]: t
        for t in next(x for x in unified["templates"] if x["name"] == "release")["dag"]["tasks"]
    }
    assert dag["pwa-canary"]["depends"] == "pwa-verify.Succeeded"
    assert "pwa-canary.Succeeded" in dag["android-publish"]["depends"]
    assert "pwa-verify" not in dag["android-publish"]["depends"]
    assert dag["pwa-canary"]["arguments"]["parameters"] == [
        {"name": "verified", "value": "{{tasks.pwa-verify.finishedAt}}"}
    ]
    step = next(x for x in unified["templates"] if x["name"] == "pwa-canary")
    assert step["container"]["args"][1:] == [
        "pwa", "canary", "--after", "{{inputs.parameters.verified}}", "--deadline", "900",
    ]  # fmt: skip
    assert LANE_DELIVERY_TASKS["pwa"] == "pwa-canary"


@pytest.mark.parametrize("stack", STACKS)
def test_the_canary_s_runs_expire_its_code_stays_and_it_waits_for_its_rights(stack):
    plan = plan_for(stack)
    c = canary(plan)
    (lifecycle,) = [
        r
        for r in plan.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.name == f"railyard-{stack}-canary"
    ]
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["expire-prefix"]["filter"] == {"prefix": pwa_canary.RUNS_PREFIX}
    assert rules["expire-prefix"]["expiration"] == {"days": 31}
    assert "days" not in rules["keep-recent-versions"]["expiration"]  # the code is kept
    assert not c.inputs["s3Key"].startswith(pwa_canary.RUNS_PREFIX)
    (policy,) = [
        p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-canary")
    ]
    assert policy.urn in c.dependencies
