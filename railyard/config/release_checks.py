"""Cross-field checks of the cluster, Argo and the release templates."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from railyard.config.errors import Problem, excerpt
from railyard.config.model import StackConfig, full_key
from railyard.release_templates import common as templates
from railyard.release_templates.triggers import check_card_pattern
from railyard_runtime.kanban.board_config import http_url
from railyard_runtime.kanban.cards import DEFAULT_RULES, ColumnRules, load_rules
from railyard_runtime.scans.images import SEVERITIES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(
    r"^(?P<repo>[^\s@:]+(?::\d+)?/[^\s@:]+):(?P<tag>[^\s@:/]+)@sha256:[0-9a-f]{64}$"
)
ARGO_IMAGE_KEYS = ("argoControllerImage", "argoServerImage", "argoExecutorImage")


def check(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    return [
        *_check_cluster(c),
        *_check_api_access(c),
        *_check_workflow_pool(c),
        *_check_images(c),
        *_check_release(c, secret_keys),
        *_check_kanban(c, secret_keys),
        *_check_sso(c, secret_keys),
    ]


FINGERPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")


def _check_sso(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    if not c.argo_sso_issuer:
        if c.is_production:
            return [
                Problem(
                    full_key("argoSsoIssuer"),
                    "prod's Argo UI needs single sign-on",
                    "set your OIDC issuer, argoSsoClientId and the secret argoSsoClientSecret "
                    "(docs/release.md#single-sign-on)",
                )
            ]
        return []
    problems = []
    if not c.argo_sso_client_id:
        problems.append(
            Problem(
                full_key("argoSsoClientId"), "is required with argoSsoIssuer", "set the client id"
            )
        )
    key = full_key("argoSsoClientSecret")
    if c.argo_sso_client_secret is None or key not in secret_keys:
        problems.append(
            Problem(
                key,
                "must be set as a secret with argoSsoIssuer",
                "pulumi config set --secret argoSsoClientSecret <secret>",
            )
        )
    if not (c.argo_sso_read_only_groups or c.argo_sso_release_manager_groups):
        problems.append(
            Problem(
                full_key("argoSsoReleaseManagerGroups"),
                "no group may use the UI: every login would be refused",
                "name the groups of argoSsoReleaseManagerGroups and/or argoSsoReadOnlyGroups",
            )
        )
    for key_name, groups in (
        ("argoSsoReadOnlyGroups", c.argo_sso_read_only_groups),
        ("argoSsoReleaseManagerGroups", c.argo_sso_release_manager_groups),
    ):
        for i, group in enumerate(groups):
            if not group.strip() or len(group) > 256:
                problems.append(
                    Problem(
                        f"{full_key(key_name)}[{i}]",
                        "is not a group name",
                        "a group of the `groups` claim",
                    )
                )
    return problems


def _check_cluster(c: StackConfig) -> list[Problem]:
    problems = []
    if c.is_production and c.eks_public_access_cidrs:
        problems.append(
            Problem(
                full_key("eksPublicAccessCidrs"),
                "prod's API endpoint must be private",
                "remove the key; reach the API over the VPN or a bastion",
            )
        )
    for i, fingerprint in enumerate(c.alibaba_oidc_fingerprints):
        if not FINGERPRINT.fullmatch(fingerprint.replace(":", "")):
            problems.append(
                Problem(
                    f"{full_key('alibabaOidcFingerprints')}[{i}]",
                    f"{excerpt(repr(fingerprint), 60)} is not a SHA-1 fingerprint",
                    "40 hex digits, as `openssl x509 -fingerprint -sha1` prints them "
                    "(docs/keyless.md)",
                )
            )
    return problems


def _check_api_access(c: StackConfig) -> list[Problem]:
    """Who reaches the API: never the whole internet; prod only from inside (runner, VPN)."""
    problems = []
    for i, net in enumerate(c.eks_public_access_cidrs):
        if net.prefixlen < 8:
            problems.append(
                Problem(
                    f"{full_key('eksPublicAccessCidrs')}[{i}]",
                    f"{net} opens the API endpoint to "
                    + ("the whole internet" if net.prefixlen == 0 else f"a /{net.prefixlen}"),
                    "list your office or VPN egress ranges (a /8 or narrower)",
                )
            )
    for i, net in enumerate(c.eks_api_client_cidrs):
        # the VPN carries the Alibaba VPC's routes (BGP), nothing else
        if not net.subnet_of(c.alibaba_vpc_cidr):
            problems.append(
                Problem(
                    f"{full_key('eksApiClientCidrs')}[{i}]",
                    f"{net} is not inside alibabaVpcCidr {c.alibaba_vpc_cidr}; only that "
                    "network reaches the API over the VPN",
                    f"use ranges inside {c.alibaba_vpc_cidr} (e.g. an operators' vSwitch)",
                )
            )
    runner = {
        "deployRunnerRepository": c.deploy_runner_repository,
        "deployRunnerConnectionArn": c.deploy_runner_connection_arn,
    }
    missing = [k for k, v in runner.items() if not v]
    if missing and (c.is_production or len(missing) == 1):
        why = (
            "prod's API endpoint is private: its preview and deploy jobs run on the in-VPC runner"
            if c.is_production
            else "the in-VPC runner needs both keys"
        )
        problems += [
            Problem(full_key(k), why, "set it (docs/deploy.md: the deploy runner)") for k in missing
        ]
    return problems


def _check_workflow_pool(c: StackConfig) -> list[Problem]:
    """Argo's parallelism never asks for more than the workflows pool can hold at its limit."""
    pods = c.argo_parallelism * templates.peak_pods_per_workflow()
    cpu = pods * templates.STEP_CPU_MILLICORES / 1000
    memory_gib = pods * templates.STEP_MEMORY_MIB / 1024
    over = []
    if cpu > c.eks_workflow_pool_max_cpu:
        over.append(f"{cpu:g} vCPU > eksWorkflowPoolMaxCpu {c.eks_workflow_pool_max_cpu}")
    if memory_gib > c.eks_workflow_pool_max_memory_gib:
        over.append(
            f"{memory_gib:g} GiB > eksWorkflowPoolMaxMemoryGib {c.eks_workflow_pool_max_memory_gib}"
        )
    if not over:
        return []
    return [
        Problem(
            full_key("argoParallelism"),
            f"{c.argo_parallelism} workflows at once can run {pods} step pods "
            f"({', '.join(over)}); the rest would wait unscheduled",
            f"lower argoParallelism to {_max_parallelism(c)} or raise the pool's limits",
        )
    ]


def _max_parallelism(c: StackConfig) -> int:
    per_workflow = templates.peak_pods_per_workflow()
    by_cpu = c.eks_workflow_pool_max_cpu * 1000 // templates.STEP_CPU_MILLICORES
    by_memory = c.eks_workflow_pool_max_memory_gib * 1024 // templates.STEP_MEMORY_MIB
    return max(1, min(by_cpu, by_memory) // per_workflow)


def _check_images(c: StackConfig) -> list[Problem]:
    problems = []
    images = {
        "argoControllerImage": c.argo_controller_image,
        "argoServerImage": c.argo_server_image,
        "argoExecutorImage": c.argo_executor_image,
        "kubectlImage": c.kubectl_image,
        "argoRolloutsImage": c.argo_rollouts_image,
    }
    for key, ref in images.items():
        match = PINNED.fullmatch(ref)
        if not match:
            problems.append(
                Problem(
                    full_key(key),
                    f"{ref!r} is not pinned by digest",
                    "use <registry>/<repo>:<tag>@sha256:<64 hex> "
                    "(docs/config.md: where the digests come from)",
                )
            )
        elif key in ARGO_IMAGE_KEYS and match["tag"] != c.argo_workflows_version:
            problems.append(
                Problem(
                    full_key(key),
                    f"tag {match['tag']} differs from "
                    f"argoWorkflowsVersion {c.argo_workflows_version}",
                    "controller, server, executor and CRDs share one version",
                )
            )
    return problems


def _check_release(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    problems = _check_triggers(c)
    for i, repo in enumerate(c.release_scan_images):
        if repo not in c.ecr_repositories:
            problems.append(
                Problem(
                    f"{full_key('releaseScanImages')}[{i}]",
                    f"{repo!r} is not one of ecrRepositories",
                    "scan only repositories the stack creates",
                )
            )
    bad = [s for s in c.release_block_severities if s not in SEVERITIES]
    if bad:
        problems.append(
            Problem(
                full_key("releaseBlockSeverities"), f"unknown {bad}", f"use {', '.join(SEVERITIES)}"
            )
        )
    for name, value in (
        ("githubToken", c.github_token),
        ("githubWebhookToken", c.github_webhook_token),
    ):
        key = full_key(name)
        if value is not None and key not in secret_keys:
            problems.append(
                Problem(key, "is stored in plaintext", f"pulumi config set --secret {name} <token>")
            )
    if c.github_webhook_token is not None:
        problems += _check_webhook_repositories(c)
    return problems


def github_owner(c: StackConfig) -> str | None:
    """The GitHub account of releaseGitBaseUrl (https://github.com/<owner>/), else None."""
    found = re.fullmatch(
        r"https://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/", c.release_git_base_url
    )
    return found.group(1) if found else None


def _check_webhook_repositories(c: StackConfig) -> list[Problem]:
    """The stack creates webhooks on GitHub: every repository must be one there."""
    if github_owner(c) is None:
        return [
            Problem(
                full_key("githubWebhookToken"),
                f"is set, but releaseGitBaseUrl {c.release_git_base_url!r} is not "
                "https://github.com/<owner>/",
                "unset githubWebhookToken and add the webhooks by hand (docs/triggers.md)",
            )
        ]
    return [
        Problem(
            f"{full_key('releaseTriggerRepositories')}[{i}]",
            f"{repo!r} is not a GitHub repository name (owner comes from releaseGitBaseUrl)",
            "the bare name, e.g. app",
        )
        for i, repo in enumerate(c.release_trigger_repositories)
        if "/" in repo
    ]


def board_targets(c: StackConfig) -> dict[str, str]:
    """``kanbanBoardColumns`` as column -> option id / transition id."""
    return dict(pair.split("=", 1) for pair in c.kanban_board_columns if "=" in pair)


def column_rules(c: StackConfig) -> ColumnRules:
    """The board's columns and rules: ``kanbanColumnRulesFile`` (relative to the project
    root), or the unified release's. ``ValueError`` names the file and every bad field."""
    if not c.kanban_column_rules_file:
        return DEFAULT_RULES
    return load_rules(PROJECT_ROOT / c.kanban_column_rules_file)


def _check_kanban(c: StackConfig, secret_keys: Collection[str]) -> list[Problem]:
    problems = []
    try:
        rules = column_rules(c)
    except ValueError as e:
        rules = DEFAULT_RULES
        problems.append(
            Problem(
                full_key("kanbanColumnRulesFile"),
                str(e),
                "columns: [..], rules: [{column, lane, phases, tasks}], blocking: [..] "
                "(docs/kanban.md: column rules)",
            )
        )
    try:  # the bridge's own check; its egress policy opens the URL's port
        http_url(c.kanban_board_url)
    except ValueError as e:
        problems.append(
            Problem(
                full_key("kanbanBoardUrl"),
                str(e),
                "e.g. https://kanban.example.com or https://kanban.example.com:8443",
            )
        )
    key = full_key("kanbanBoardColumns")
    bad = [p for p in c.kanban_board_columns if "=" not in p or p.startswith("=")]
    if bad:
        problems.append(Problem(key, f"{bad} are not Column=target", 'e.g. "PWA live=31"'))
    secret = full_key("kanbanBoardSecret")
    if c.kanban_board_secret is not None and secret not in secret_keys:
        problems.append(
            Problem(
                secret,
                "is stored in plaintext",
                "pulumi config set --secret kanbanBoardSecret <value>",
            )
        )
    if c.kanban_board == "webhook":
        return problems
    if c.kanban_board_secret is None:
        problems.append(
            Problem(
                secret,
                f"the {c.kanban_board} board needs its API token",
                "pulumi config set --secret kanbanBoardSecret <token>",
            )
        )
    missing = [col for col in rules.columns if col not in board_targets(c)]
    if missing:
        problems.append(
            Problem(
                key, f"no target for columns {missing}", 'map every board column, e.g. "Blocked=41"'
            )
        )
    needs = (
        {
            "kanbanGithubProjectId": c.kanban_github_project_id,
            "kanbanGithubStatusFieldId": c.kanban_github_status_field_id,
        }
        if c.kanban_board == "github-projects"
        else {"kanbanJiraEmail": c.kanban_jira_email}
    )
    for name, value in needs.items():
        if not value:
            problems.append(
                Problem(
                    full_key(name),
                    f"required by the {c.kanban_board} board",
                    "set it (docs/kanban.md: where to find it)",
                )
            )
    return problems


REPOSITORY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


def _check_triggers(c: StackConfig) -> list[Problem]:
    problems = [
        Problem(
            f"{full_key('githubWebhookSourceRanges')}[{i}]",
            f"{net} admits every address",
            "GitHub's `hooks` ranges only: curl -s https://api.github.com/meta | jq -c .hooks",
        )
        for i, net in enumerate(c.github_webhook_source_ranges)
        if net.prefixlen == 0
    ]
    why = check_card_pattern(c.release_card_pattern)
    if why:
        problems.append(
            Problem(
                full_key("releaseCardPattern"),
                f"{excerpt(repr(c.release_card_pattern), 60)} {why}",
                "a pattern of one card id, e.g. [A-Z]+-[0-9]+ (docs/triggers.md)",
            )
        )
    for i, repo in enumerate(c.release_trigger_repositories):
        if not REPOSITORY.fullmatch(repo) or ".." in repo.split("/"):
            problems.append(
                Problem(
                    f"{full_key('releaseTriggerRepositories')}[{i}]",
                    f"{excerpt(repr(repo), 60)} is not a repository name",
                    "a name under releaseGitBaseUrl, e.g. app",
                )
            )
    if ".." in c.release_train_manifest.split("/"):
        problems.append(
            Problem(
                full_key("releaseTrainManifest"),
                f"{excerpt(repr(c.release_train_manifest), 60)} leaves the repository",
                "a path inside releaseInfraRepo, e.g. releases/prod.yaml",
            )
        )
    return problems
