"""The repo's own pipeline files: valid against their schemas, and wired as documented."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pre_commit.clientlib import load_config

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def workflow(name: str) -> dict:
    # YAML 1.1 reads the key `on` as True
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


@pytest.mark.parametrize(
    ("schema", "files"),
    [("vendor.github-workflows", WORKFLOWS), ("vendor.renovate", [ROOT / "renovate.json"])],
)
def test_files_match_their_published_schemas(schema, files):
    assert files
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_config_is_valid_and_runs_ruff():
    config = load_config(str(ROOT / ".pre-commit-config.yaml"))
    ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "workflows"} <= ids


def test_pull_requests_test_plan_and_preview_both_stacks_with_the_policy_pack():
    pr = workflow("pull-request.yml")
    assert pr[True]["pull_request"]["branches"] == ["main"]
    jobs = pr["jobs"]
    assert "bash .ci/run" in str(jobs["test"]["steps"])
    assert jobs["offline-plan"]["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    preview = jobs["preview"]
    assert preview["needs"] == "offline-plan"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (pulumi,) = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["policyPackConfigs"] == "policy/config.json"
    assert pulumi["with"]["comment-on-pr"] is True
    assert preview["permissions"]["id-token"] == "write"


def test_merges_deploy_dev_then_prod_behind_its_environment():
    deploy = workflow("deploy.yml")
    assert deploy[True]["push"]["branches"] == ["main"]
    dev, prod = deploy["jobs"]["dev"], deploy["jobs"]["prod"]
    assert dev["with"]["stack"] == "dev" and prod["with"]["stack"] == "prod"
    assert prod["needs"] == "dev"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    up = workflow("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"  # prod's environment has reviewers
    (pulumi,) = [s for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["policyPacks"] == "policy"


def test_no_credential_is_written_into_the_pipeline():
    aws_key = re.compile(r"AKIA[0-9A-Z]{16}|LTAI[0-9A-Za-z]{12,}")
    for path in WORKFLOWS:
        text = path.read_text()
        assert not aws_key.search(text), path
        for line in text.splitlines():
            if re.search(r"(PASSPHRASE|SECRET|TOKEN|KEY_ID):", line):
                assert "${{ secrets." in line, f"{path.name}: {line.strip()}"
    assert (
        "aws-actions/configure-aws-credentials"
        in (ROOT / ".github/workflows/pulumi-up.yml").read_text()
    )


def _steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


@pytest.mark.parametrize(
    ("file", "job", "stack_expression"),
    [
        ("pull-request.yml", "preview", "${{ matrix.stack }}"),
        ("pulumi-up.yml", "up", "${{ inputs.stack }}"),
    ],
)
def test_cloud_jobs_run_on_the_stacks_in_vpc_runner_with_oidc_only(file, job, stack_expression):
    from components.deploy_runner import runs_on_label

    spec = workflow(file)["jobs"][job]
    # the label the stack's DeployRunner answers (its CodeBuild project name)
    assert spec["runs-on"] == runs_on_label(f"railyard-{stack_expression}-deploy")
    assert spec["permissions"]["id-token"] == "write"
    (aws,) = _steps_using(spec, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"].startswith("${{ vars.")
    (alibaba,) = _steps_using(spec, "aliyun/configure-aliyun-credentials-action")
    # a third-party action that hands out cloud credentials: pinned to a commit
    assert re.fullmatch(r"aliyun/configure-aliyun-credentials-action@[0-9a-f]{40}", alibaba["uses"])
    assert alibaba["with"]["role-to-assume"].startswith("${{ vars.ALIBABA_")
    assert alibaba["with"]["oidc-provider-arn"] == "${{ vars.ALIBABA_OIDC_PROVIDER_ARN }}"
    steps = spec["steps"]
    pulumi = steps.index(_steps_using(spec, "pulumi/actions")[0])
    assert steps.index(aws) < pulumi and steps.index(alibaba) < pulumi


def test_no_long_lived_cloud_key_is_read_anywhere():
    keys = re.compile(
        r"(ALIBABA_CLOUD|ALICLOUD)_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY"
    )
    for path in WORKFLOWS:
        assert not keys.search(path.read_text()), path.name
    assert workflow("deploy.yml")["jobs"]["prod"]["permissions"]["id-token"] == "write"


PINNED_IMAGE = re.compile(
    r"[a-z0-9.-]+(?::[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}"
)


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return listed.stdout.split() if listed.returncode == 0 else []


def test_renovate_refreshes_every_pinned_image_and_requirements_file():
    renovate = json.loads((ROOT / "renovate.json").read_text())
    (images,) = renovate["customManagers"]
    image_files = [re.compile(p) for p in images["fileMatch"]]
    pip_files = [re.compile(p) for p in renovate["pip_requirements"]["fileMatch"]]
    files = tracked_files() or [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")]
    # generated files (Pulumi.yaml, docs/config.md) follow the model; tests and docs quote
    # digests as examples
    sources = [
        f
        for f in files
        if f.endswith((".py", ".yaml", ".yml"))
        and not f.startswith(("tests/", "runtime/tests/", "docs/", "bench/"))
        and f != "Pulumi.yaml"
        and PINNED_IMAGE.search((ROOT / f).read_text(errors="replace"))
    ]
    assert "railyard/config/model.py" in sources
    unmatched = [f for f in sources if not any(p.search(f) for p in image_files)]
    assert unmatched == [], "add them to renovate.json customManagers fileMatch"
    requirements = [f for f in files if re.search(r"(^|/)requirements[^/]*\.txt$", f)]
    assert "requirements-scan.txt" in requirements or not tracked_files()
    unmatched = [f for f in requirements if not any(p.search(f) for p in pip_files)]
    assert unmatched == [], "add them to renovate.json pip_requirements fileMatch"
