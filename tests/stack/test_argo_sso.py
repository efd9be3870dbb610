"""prod's Argo UI signs people in with OIDC; their groups pick what they may do."""

import pytest

from components.argo_sso import CLIENT_SECRET, READ_ONLY, RELEASE_MANAGER, group_rule
from offline.runner import run_offline
from railyard.config import ConfigError
from tests.harness import k8s_named, plan_for

SSO = "railyard:eks:ArgoSso"


def server_values(plan):
    (chart,) = plan.of_type("kubernetes:helm.sh/v3:Release", under="railyard:eks:ArgoWorkflows")
    return chart, chart.inputs["values"]["server"]


def test_prod_signs_in_with_oidc_and_keeps_cli_tokens():
    plan = plan_for("prod")
    chart, server = server_values(plan)
    assert server["authModes"] == ["sso", "client"]
    sso = server["sso"]
    assert sso["enabled"] is True and sso["issuer"] == "https://login.acme.example/"
    assert sso["clientId"] == {"name": CLIENT_SECRET, "key": "client-id"}
    assert sso["clientSecret"] == {"name": CLIENT_SECRET, "key": "client-secret"}
    assert sso["redirectUrl"] == "http://localhost:2746/oauth2/callback"
    assert sso["rbac"] == {"enabled": True} and sso["scopes"] == ["groups"]
    secret = k8s_named(plan, "Secret", CLIENT_SECRET)
    assert secret.inputs["metadata"]["namespace"] == chart.inputs["namespace"] == "argo"
    assert secret.inputs["stringData"]["client-id"] == "argo-workflows"
    assert secret.is_secret("stringData")
    assert secret.urn in chart.dependencies


def test_dev_keeps_tokens_only():
    plan = plan_for("dev")
    _, server = server_values(plan)
    assert server["authModes"] == ["client"] and "sso" not in server
    assert not [r for r in plan.resources if r.type == SSO]


def test_groups_pick_an_account_whose_rights_end_at_the_workflows_namespace():
    plan = plan_for("prod")
    readers = k8s_named(plan, "ServiceAccount", READ_ONLY)
    managers = k8s_named(plan, "ServiceAccount", RELEASE_MANAGER)
    for account, groups, precedence in (
        (readers, ["engineering"], "0"),
        (managers, ["release-managers"], "1"),
    ):
        annotations = account.inputs["metadata"]["annotations"]
        assert annotations["workflows.argoproj.io/rbac-rule"] == group_rule(groups)
        assert annotations["workflows.argoproj.io/rbac-rule-precedence"] == precedence
        name = account.inputs["metadata"]["name"]
        token = k8s_named(plan, "Secret", f"{name}.service-account-token")
        assert token.inputs["type"] == "kubernetes.io/service-account-token"
        assert account.inputs["metadata"]["namespace"] == "argo"
        binding = k8s_named(plan, "RoleBinding", name)
        assert binding.inputs["metadata"]["namespace"] == "workflows"
        assert binding.inputs["subjects"] == [
            {"kind": "ServiceAccount", "name": name, "namespace": "argo"}
        ]
    read_rules = k8s_named(plan, "Role", READ_ONLY).inputs["rules"]
    assert {v for r in read_rules for v in r["verbs"]} == {"get", "list", "watch"}
    manage = k8s_named(plan, "Role", RELEASE_MANAGER).inputs["rules"]
    writes = [r for r in manage if set(r["verbs"]) - {"get", "list", "watch"}]
    assert writes == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflows"],
            "verbs": ["create", "update", "patch", "delete"],
        }
    ]


def test_the_rule_is_a_group_membership_test():
    assert group_rule(["a", 'b"c']) == 'any(["a", "b\\"c"], {# in groups})'


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"railyard:argoSsoIssuer": ""}, "prod's Argo UI needs single sign-on"),
        ({"railyard:argoSsoClientSecret": "plain"}, "argoSsoClientSecret: must be set as a secret"),
        ({"railyard:argoSsoClientId": ""}, "argoSsoClientId: is required"),
        (
            {"railyard:argoSsoReadOnlyGroups": [], "railyard:argoSsoReleaseManagerGroups": []},
            "every login would be refused",
        ),
        ({"railyard:argoSsoIssuer": "http://login.acme.example/"}, "railyard:argoSsoIssuer"),
        ({"railyard:argoSsoRedirectUrl": "http://argo.acme.example/cb"}, "argoSsoRedirectUrl"),
    ],
)
def test_sso_config_that_cannot_work_names_the_key(overrides, message):
    with pytest.raises(ConfigError) as raised:
        run_offline("prod", overrides)
    assert message in str(raised.value)
