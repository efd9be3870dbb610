"""A GitHub push starts a release: the webhook client, its RBAC and the bindings, as registered."""

import pytest

from components.argo_workflows import ARGO_NAMESPACE, SERVER_ACCOUNT
from components.release_triggers import CLIENT_ACCOUNT, CLIENTS_SECRET, TOKEN_SECRET
from offline.recorder import OfflinePlan
from offline.runner import SECRET_MASK, run_offline
from railyard.config import ConfigError
from railyard.release_templates import render_all
from tests.harness import k8s_named, plan_for

BINDING = "kubernetes:argoproj.io/v1alpha1:WorkflowEventBinding"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"


@pytest.fixture(scope="module")
def with_apps() -> OfflinePlan:
    return run_offline("dev", {"railyard:releaseTriggerRepositories": ["app", "web/pwa"]})


def test_the_train_binding_submits_its_installed_template_after_it(stack_plan):
    (binding,) = stack_plan.of_type(BINDING)
    spec = binding.inputs["spec"]
    template = k8s_named(
        stack_plan, "WorkflowTemplate", spec["submit"]["workflowTemplateRef"]["name"]
    )
    assert template.name == "template-release-train"
    assert template.urn in binding.dependencies
    assert binding.inputs["metadata"]["namespace"] == template.inputs["metadata"]["namespace"]
    clients = k8s_named(stack_plan, "Secret", CLIENTS_SECRET)
    assert clients.urn in binding.dependencies
    selector = spec["event"]["selector"]
    manifest = f'"releases/{stack_plan.stack}.yaml"'
    assert f"{{# == {manifest}}}" in selector and 'payload.ref == "refs/heads/main"' in selector
    assert 'payload.repository?.html_url in ["https://github.com/acme/infrastructure"]' in selector
    params = {p["name"]: p["valueFrom"]["event"] for p in spec["submit"]["arguments"]["parameters"]}
    assert params == {
        "manifest": manifest,
        "revision": "payload.after",
        "commit-time": 'payload.head_commit?.timestamp ?? ""',  # where lead time starts
    }
    declared = {p["name"] for p in template.inputs["spec"]["arguments"]["parameters"]}
    assert set(params) <= declared


def test_redeliveries_name_the_same_workflow(stack_plan):
    (binding,) = stack_plan.of_type(BINDING)
    name = binding.inputs["spec"]["submit"]["metadata"]["name"]
    assert name == '"release-train-" + lower(metadata["x-github-delivery"][0])'
    assert (
        'len(metadata["x-github-delivery"] ?? []) > 0'
        in binding.inputs["spec"]["event"]["selector"]
    )


def test_application_repositories_get_the_unified_release(with_apps):
    bindings = {b.inputs["metadata"]["name"]: b for b in with_apps.of_type(BINDING)}
    assert set(bindings) == {"release-train-on-push", "unified-release-on-push"}
    unified = bindings["unified-release-on-push"].inputs["spec"]
    assert unified["submit"]["workflowTemplateRef"]["name"] == "unified-release"
    assert (
        'payload.repository?.html_url in ["https://github.com/acme/app", '
        '"https://github.com/acme/web/pwa"]' in unified["event"]["selector"]
    )
    params = {p["name"] for p in unified["submit"]["arguments"]["parameters"]}
    assert params == {"git-commit-sha", "repository", "feature", "commit-time"}
    template = k8s_named(with_apps, "WorkflowTemplate", "unified-release")
    declared = {p["name"] for p in template.inputs["spec"]["arguments"]["parameters"]}
    assert params <= declared
    assert template.urn in bindings["unified-release-on-push"].dependencies


def test_the_hmac_secret_is_generated_secret_and_exported_as_one(stack_plan):
    clients = k8s_named(stack_plan, "Secret", CLIENTS_SECRET)
    assert clients.inputs["metadata"]["namespace"] == "workflows"
    assert clients.is_secret("stringData")
    (entry,) = clients.inputs["stringData"].items()
    assert entry[0] == CLIENT_ACCOUNT
    kind, secret = entry[1].splitlines()
    assert kind == "type: github"
    # an empty secret would switch argo-server's signature check off
    assert secret.startswith("secret: ") and len(secret.removeprefix("secret: ")) == 48
    (hmac,) = [
        r
        for r in stack_plan.of_type("random:index/randomPassword:RandomPassword")
        if "hmac" in r.name
    ]
    assert hmac.urn in clients.dependencies and hmac.inputs["length"] == 48
    assert stack_plan.outputs["githubWebhookSecret"] == SECRET_MASK
    assert stack_plan.outputs["githubWebhookPath"] == "/api/v1/events/workflows/github"


def test_the_client_account_has_a_token_and_no_more_rights_than_a_match_needs(stack_plan):
    account = k8s_named(stack_plan, "ServiceAccount", CLIENT_ACCOUNT)
    assert account.inputs["automountServiceAccountToken"] is False
    assert account.inputs["metadata"]["annotations"] == {
        "workflows.argoproj.io/service-account-token.name": TOKEN_SECRET
    }
    token = k8s_named(stack_plan, "Secret", TOKEN_SECRET)
    assert token.inputs["type"] == "kubernetes.io/service-account-token"
    assert token.inputs["metadata"]["annotations"] == {
        "kubernetes.io/service-account.name": CLIENT_ACCOUNT
    }
    assert account.urn in token.dependencies
    role = k8s_named(stack_plan, "Role", "webhook-client")
    assert sorted((r["resources"][0], r["verbs"][0]) for r in role.inputs["rules"]) == [
        ("workfloweventbindings", "list"),
        ("workflows", "create"),
        ("workflowtemplates", "get"),
    ]
    assert all(r["apiGroups"] == ["argoproj.io"] for r in role.inputs["rules"])
    binding = k8s_named(stack_plan, "RoleBinding", "webhook-client")
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": CLIENT_ACCOUNT, "namespace": "workflows"}
    ]


def test_argo_server_reads_the_client_by_name_only(stack_plan):
    role = k8s_named(stack_plan, "Role", "argo-server-webhooks")
    assert role.inputs["metadata"]["namespace"] == "workflows"
    assert {
        (r["resources"][0], tuple(r["resourceNames"]), tuple(r["verbs"]))
        for r in role.inputs["rules"]
    } == {
        ("secrets", (CLIENTS_SECRET, TOKEN_SECRET), ("get",)),
        ("serviceaccounts", (CLIENT_ACCOUNT,), ("get",)),
    }
    binding = k8s_named(stack_plan, "RoleBinding", "argo-server-webhooks")
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVER_ACCOUNT, "namespace": ARGO_NAMESPACE}
    ]
    (chart,) = stack_plan.of_type(
        "kubernetes:helm.sh/v3:Release", under="railyard:eks:ArgoWorkflows"
    )
    assert chart.inputs["namespace"] == ARGO_NAMESPACE
    assert chart.inputs["values"]["server"]["serviceAccount"] == {"name": SERVER_ACCOUNT}


def test_the_train_manifest_and_branch_come_from_config():
    plan = run_offline(
        "prod",
        {
            "railyard:releaseTrainManifest": "deploy/prod.yml",
            "railyard:releaseTriggerBranch": "release",
        },
    )
    (binding,) = plan.of_type(BINDING)
    selector = binding.inputs["spec"]["event"]["selector"]
    assert '{# == "deploy/prod.yml"}' in selector and '"refs/heads/release"' in selector


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("releaseCardPattern", "[A-Z]*", "matches an empty word"),
        ("releaseCardPattern", "(?=X)[A-Z]+-[0-9]+", "lookaround or backreferences"),
        ("releaseCardPattern", "([A-Z]+-[0-9]+", "not a regular expression"),
        ("releaseTriggerRepositories", ["app", "../etc"], "is not a repository name"),
        ("releaseTriggerRepositories", ["app\n"], "is not a repository name"),
        ("releaseTrainManifest", "releases/../../x.yaml", "leaves the repository"),
        ("releaseTrainManifest", "releases/prod.json", "releaseTrainManifest"),
        ("releaseTriggerBranch", "main branch", "releaseTriggerBranch"),
    ],
)
def test_bad_trigger_config_names_the_key(key, value, message):
    with pytest.raises(ConfigError) as raised:
        run_offline("dev", {f"railyard:{key}": value})
    assert f"railyard:{key}" in str(raised.value) and message in str(raised.value)


def test_every_template_a_binding_can_submit_is_rendered():
    names = {d["metadata"]["name"] for d in render_all(plan_settings())}
    assert {"release-train", "unified-release"} <= names


def plan_settings():
    from offline.runner import release_settings

    return release_settings("dev")


def test_dev_plan_registers_the_triggers_once():
    plan = plan_for("dev")
    components = [r for r in plan.resources if r.type == "railyard:release:ReleaseTriggers"]
    assert len(components) == 1
    assert len(plan.of_type(TEMPLATE)) >= 2


SECRET_TOKEN = {"secure": "v1:ciphertext"}


def test_with_a_webhook_token_the_stack_creates_the_push_webhooks():
    plan = run_offline(
        "prod",
        {
            "railyard:githubWebhookToken": SECRET_TOKEN,
            "railyard:releaseTriggerRepositories": ["app"],
        },
    )
    (provider,) = plan.of_type("pulumi:providers:github")
    assert provider.inputs["owner"] == "acme"
    assert provider.is_secret("token")
    hooks = plan.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert sorted(h.inputs["repository"] for h in hooks) == ["app", "infrastructure"]
    url = plan.outputs["githubWebhookUrl"]
    for hook in hooks:
        assert hook.provider.startswith(provider.urn)
        assert hook.inputs["events"] == ["push"] and hook.inputs["active"] is True
        config = hook.inputs["configuration"]
        assert (config["url"], config["contentType"], config["insecureSsl"]) == (url, "json", False)
        assert hook.is_secret("configuration.secret")
        clients = k8s_named(plan, "Secret", CLIENTS_SECRET)
        assert config["secret"] in clients.inputs["stringData"][CLIENT_ACCOUNT]


def test_without_a_token_no_webhook_is_created(stack_plan):
    assert not stack_plan.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert not stack_plan.of_type("pulumi:providers:github")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"railyard:githubWebhookToken": "ghp_plain"},
            "githubWebhookToken: is stored in plaintext",
        ),
        (
            {
                "railyard:githubWebhookToken": SECRET_TOKEN,
                "railyard:releaseGitBaseUrl": "https://gitlab.example.com/acme/",
            },
            "is not https://github.com/<owner>/",
        ),
        (
            {
                "railyard:githubWebhookToken": SECRET_TOKEN,
                "railyard:releaseTriggerRepositories": ["web/pwa"],
            },
            "'web/pwa' is not a GitHub repository name",
        ),
    ],
)
def test_webhook_config_that_cannot_work_names_the_key(overrides, message):
    with pytest.raises(ConfigError) as raised:
        run_offline("dev", overrides)
    assert message in str(raised.value)
