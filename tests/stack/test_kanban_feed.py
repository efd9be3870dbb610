"""The Kanban feed as the real program registers it: queue, table, bridge, least privilege."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from offline.mocks import FAKE_ACCOUNT
from offline.runner import run_offline
from railyard.config import ConfigError
from railyard_runtime.events import Lane, Phase, PipelineEvent
from railyard_runtime.kanban import cards
from tests.harness import plan_for, role_policy_statements

FEED = "railyard:kanban:KanbanFeed"
PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")


def cards_table(plan):
    (table,) = [t for t in plan.of_type("aws:dynamodb/table:Table") if t.name.endswith("-cards")]
    return table


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_bridge_may_only_consume_the_queue_and_write_the_cards(stack):
    plan = plan_for(stack)
    queues = {q.inputs["name"]: q for q in plan.of_type("aws:sqs/queue:Queue")}
    queue = queues[f"railyard-{stack}-kanban-events.fifo"]
    dlq = queues[f"railyard-{stack}-kanban-events-dlq.fifo"]
    table = cards_table(plan)
    statements = role_policy_statements(plan, "-kanban-bridge")
    by_resource = {
        s["Resource"]: set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for s in statements
    }
    assert by_resource[f"arn:aws:sqs:us-east-1:{FAKE_ACCOUNT}:{queue.inputs['name']}"] == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
    }
    assert {"sqs:SendMessage"} in by_resource.values()  # the DLQ, for poison messages
    assert by_resource[f"arn:aws:dynamodb:us-east-1:{FAKE_ACCOUNT}:table/{table.id}"] == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    }
    assert dlq.inputs["fifoQueue"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_workflow_pods_may_only_send_to_the_queue(stack):
    plan = plan_for(stack)
    statements = role_policy_statements(plan, "-release-workflows")
    sqs = [
        s
        for s in statements
        if any(
            str(a).startswith("sqs:")
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
    ]
    assert [s["Action"] for s in sqs] == ["sqs:SendMessage"]
    assert sqs[0]["Resource"].endswith(f":railyard-{stack}-kanban-events.fifo")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_bridge_role_trusts_only_the_bridge_service_account(stack):
    plan = plan_for(stack)
    (role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.name.endswith("-kanban-bridge")]
    conditions = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    subs = [v for k, v in conditions["StringEquals"].items() if k.endswith(":sub")]
    assert subs == ["system:serviceaccount:kanban:railyard-bridge"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cards_table_is_encrypted_recoverable_and_protected_in_prod(stack):
    table = cards_table(plan_for(stack)).inputs
    assert table["hashKey"] == "feature"
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["serverSideEncryption"]["enabled"] is True
    assert table["pointInTimeRecovery"]["enabled"] is True
    assert table["deletionProtectionEnabled"] is (stack == "prod")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_bridge_deployment_runs_the_steps_image_by_digest_with_probes_limits_and_a_pdb(stack):
    plan = plan_for(stack)
    deployment = plan.one("kubernetes:apps/v1:Deployment", under=FEED).inputs
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert PINNED.search(container["image"])
    assert container["image"].startswith(plan.outputs["ecrRepositoryUrls"]["railyard/steps"])
    assert container["command"] == ["railyard-bridge"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AWS_REGION"] == "us-east-1"
    queue = next(
        q for q in plan.of_type("aws:sqs/queue:Queue") if q.inputs["name"].endswith("events.fifo")
    )
    assert (
        int(env["RAILYARD_EVENTS_VISIBILITY_SECONDS"]) == queue.inputs["visibilityTimeoutSeconds"]
    )
    assert env["RAILYARD_EVENTS_QUEUE_URL"].endswith(f"railyard-{stack}-kanban-events.fifo")
    assert env["RAILYARD_CARDS_TABLE"] == cards_table(plan).id
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"]
    assert pod["serviceAccountName"] == "railyard-bridge"
    assert pod["terminationGracePeriodSeconds"] >= 30  # a long poll ends, then the batch
    pdb = plan.one("kubernetes:policy/v1:PodDisruptionBudget").inputs
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_board_secret_is_generated_for_the_webhook_and_kept_secret():
    plan = plan_for("dev")
    (secret,) = [
        s
        for s in plan.of_type("kubernetes:core/v1:Secret", under=FEED)
        if s.inputs["metadata"]["name"] == "railyard-board"
    ]
    assert secret.is_secret("stringData.secret")
    assert plan.of_type("random:index/randomPassword:RandomPassword", under=FEED)
    config = json.loads(
        plan.one("kubernetes:core/v1:ConfigMap", under=FEED).inputs["data"]["board.json"]
    )
    assert config == {"url": "https://kanban.example.com"}


def test_a_jira_board_needs_its_token_email_and_a_transition_per_column():
    with pytest.raises(Exception) as e:
        run_offline("dev", {"railyard:kanbanBoard": "jira"})
    message = str(e.value)
    assert "kanbanBoardSecret: the jira board needs its API token" in message
    assert "kanbanJiraEmail: required by the jira board" in message
    assert "kanbanBoardColumns: no target for columns" in message


def test_a_jira_board_gets_its_transitions():
    columns = [
        "In release=11",
        "Backend live=21",
        "PWA live=31",
        "Android released=41",
        "Blocked=51",
    ]
    plan = run_offline(
        "dev",
        {
            "railyard:kanbanBoard": "jira",
            "railyard:kanbanBoardUrl": "https://acme.atlassian.net",
            "railyard:kanbanJiraEmail": "bot@example.com",
            "railyard:kanbanBoardColumns": columns,
            "railyard:kanbanBoardSecret": {"secure": "v1:ciphertext"},
        },
    )
    config = json.loads(
        plan.one("kubernetes:core/v1:ConfigMap", under=FEED).inputs["data"]["board.json"]
    )
    assert config["transitions"]["PWA live"] == "31"
    assert config["baseUrl"] == "https://acme.atlassian.net"
    assert not plan.of_type("random:index/randomPassword:RandomPassword", under=FEED)


EXAMPLE_RULES = "docs/kanban-columns.example.yaml"


def test_column_rules_from_a_file_reach_the_bridge_and_name_the_board_targets():
    plan = run_offline("dev", {"railyard:kanbanColumnRulesFile": EXAMPLE_RULES})
    data = plan.one("kubernetes:core/v1:ConfigMap", under=FEED).inputs["data"]
    rules = cards.ColumnRules.model_validate_json(data["rules.json"])
    assert rules.columns == ["Deploying", "Backend in production", "Shipped", "Needs attention"]
    (container,) = plan.one("kubernetes:apps/v1:Deployment", under=FEED).inputs["spec"]["template"][
        "spec"
    ]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["RAILYARD_COLUMN_RULES"] == "/etc/railyard/board/rules.json"
    # what the bridge will do with them: a published APK ships the card
    card = cards.Card(feature="PROJ-1")
    for task, lane in (("backend-rollout", Lane.BACKEND), ("android-publish", Lane.ANDROID)):
        card, _ = cards.apply(card, event(lane, task))
    assert rules.column(card) == "Shipped"
    # a Jira board must map these columns, not the default ones
    with pytest.raises(ConfigError) as e:
        run_offline(
            "dev",
            {
                "railyard:kanbanColumnRulesFile": EXAMPLE_RULES,
                "railyard:kanbanBoard": "jira",
                "railyard:kanbanJiraEmail": "bot@example.com",
                "railyard:kanbanBoardColumns": ["Deploying=11", "Shipped=31"],
                "railyard:kanbanBoardSecret": {"secure": "v1:ciphertext"},
            },
        )
    assert "no target for columns ['Backend in production', 'Needs attention']" in str(e.value)


def test_the_default_board_sends_no_rules_file():
    plan = plan_for("dev")
    assert "rules.json" not in plan.one("kubernetes:core/v1:ConfigMap", under=FEED).inputs["data"]


def config_digest(plan) -> str:
    template = plan.one("kubernetes:apps/v1:Deployment", under=FEED).inputs["spec"]["template"]
    return template["metadata"]["annotations"]["railyard.io/config-sha256"]


def test_a_changed_board_config_rolls_the_bridge_pods():
    default = config_digest(plan_for("dev"))
    assert config_digest(run_offline("dev")) == default  # deterministic
    moved = run_offline("dev", {"railyard:kanbanBoardUrl": "https://board.example.org"})
    ruled = run_offline("dev", {"railyard:kanbanColumnRulesFile": EXAMPLE_RULES})
    assert len({default, config_digest(moved), config_digest(ruled)}) == 3


def test_bridge_replicas_spread_over_nodes():
    pod = (
        plan_for("prod")
        .one("kubernetes:apps/v1:Deployment", under=FEED)
        .inputs["spec"]["template"]["spec"]
    )
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "railyard-bridge"}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            "columns: [Done]\nrules: [{column: Done, lane: frontend, phases: [Succeeded]}]\n",
            "rules.0.lane: Input should be 'backend', 'pwa', 'android' or 'release'",
        ),
        (
            "columns: [Done]\nrules: [{column: Done, phases: [Succeeded], task: [x]}]\n",
            "rules.0.task: Extra inputs are not permitted",
        ),
        (
            "columns: [Done]\nrules: [{column: Shipped, phases: [Succeeded]}]\n",
            "rules name columns not in `columns`: ['Shipped']",
        ),
        ("columns: [Done\n", "not valid YAML"),
    ],
)
def test_a_bad_column_rules_file_names_the_file_and_the_field(tmp_path, document, expected):
    path = tmp_path / "columns.yaml"
    path.write_text(document)
    with pytest.raises(ConfigError) as e:
        run_offline("dev", {"railyard:kanbanColumnRulesFile": str(path)})
    (problem,) = e.value.problems
    assert problem.key == "railyard:kanbanColumnRulesFile"
    assert expected in problem.message
    assert "docs/kanban.md" in problem.fix


def test_a_missing_column_rules_file_is_named():
    with pytest.raises(ConfigError) as e:
        run_offline("dev", {"railyard:kanbanColumnRulesFile": "kanban/nope.yaml"})
    assert "railyard:kanbanColumnRulesFile: " in str(e.value)
    assert "kanban/nope.yaml: cannot read it" in str(e.value)


def event(lane: Lane, task: str) -> PipelineEvent:
    return PipelineEvent(
        feature="PROJ-1",
        env="dev",
        lane=lane,
        phase=Phase.SUCCEEDED,
        workflow_uid="u",
        task=task,
        time=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=len(task)),
    )
