"""The README's main job: `python -m offline.plan STACK`, run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offline import plan as plan_cli

ROOT = Path(__file__).resolve().parent.parent


def plan(*args):
    """The plan as a user runs it: a fresh process, a bare environment."""
    return subprocess.run(
        [sys.executable, "-m", "offline.plan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def plan_in_process(*args):
    """The same CLI in this process (its imports already paid): for exit codes and messages."""
    result = CliRunner().invoke(plan_cli.app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def dev_plan(tmp_path_factory):
    picture = tmp_path_factory.mktemp("picture") / "dev.mmd"
    return plan("dev", "--diagram", str(picture)), picture


def test_dev_plan_says_it_is_offline_and_shows_the_tree_and_counts(dev_plan):
    result, _ = dev_plan
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "OFFLINE PLAN" in out and "Nothing was deployed" in out
    for component in ("railyard-dev-aws", "railyard-dev-alibaba", "railyard-dev-vpn"):
        assert component in out
    assert "aws:ec2/vpnConnection:VpnConnection" in out
    assert "resources by type" in out


def test_json_plan_counts_match_the_resources():
    code, output = plan_in_process("prod", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["offline"] is True
    assert sum(data["countsByType"].values()) == len(data["resources"])
    assert data["countsByType"]["aws:ec2/natGateway:NatGateway"] == 3
    assert data["countsByType"]["alicloud:vpn/customerGateway:CustomerGateway"] == 4


def test_bad_config_exits_2_naming_the_key():
    code, output = plan_in_process("dev", "--set", "railyard:vpnAlibabaAsn=45104")
    assert code == 2
    assert "railyard:vpnAlibabaAsn: 45104 is Alibaba Cloud's own ASN" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["staging"], "no Pulumi.staging.yaml"), (["dev", "--set", "oops"], "KEY=VALUE")],
)
def test_bad_arguments_exit_2_with_the_fix(args, message):
    code, output = plan_in_process(*args)
    assert code == 2
    assert message in output


def test_the_cli_entry_point_imports_and_validates_config_first():
    """`pulumi up` runs stacks/ with runpy from the project root; `python stacks/` does the
    same (stacks/ first on sys.path). With no engine and no config the program must get as
    far as the config check, proving the imports resolve."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "stacks")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "ModuleNotFoundError" not in result.stderr
    assert "railyard:environment: is required" in result.stderr


def test_plan_reports_a_clean_policy_verdict_and_writes_a_diagram(dev_plan):
    result, picture = dev_plan
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Policy pack: 0 mandatory and 0 advisory violations" in result.stdout
    assert picture.read_text().startswith("flowchart LR")


def test_a_mandatory_violation_exits_3_naming_resource_policy_and_field(monkeypatch):
    from offline.runner import run_offline
    from tests.stack.test_policies import with_tagged_pod

    monkeypatch.setattr(
        plan_cli,
        "run_offline",
        lambda stack, overrides: run_offline(stack, overrides, with_tagged_pod),
    )
    result = CliRunner().invoke(plan_cli.app, ["dev"], env={"COLUMNS": "250"})
    assert result.exit_code == 3, result.output
    assert "images-pinned-by-digest" in result.output and "legacy-debug" in result.output
    assert "spec.containers[0].image: 'busybox:1.36' is not pinned" in result.output
    assert "1 mandatory" in result.output

    as_json = CliRunner().invoke(plan_cli.app, ["dev", "--json"])
    assert as_json.exit_code == 3
    (violation,) = json.loads(as_json.stdout)["policyViolations"]
    assert violation["urn"].endswith("::legacy-debug") and violation["enforcement"] == "mandatory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy-config", "missing.json"], "cannot read policy config"),
        (["--diagram", "out.jpeg"], "unknown diagram format"),
    ],
)
def test_bad_policy_config_or_diagram_path_exit_2(args, message, tmp_path):
    args = [a if not a.endswith((".json", ".jpeg")) else str(tmp_path / a) for a in args]
    code, output = plan_in_process("dev", *args)
    assert code == 2
    assert message in output


def test_the_sdk_objects_are_frozen_before_the_interpreter_tears_down():
    """The interpreter's last collections would walk every SDK object once more at exit; the
    offline run registers gc.freeze to run first (exit handlers run last-registered first,
    so the one registered here runs after it and sees what it did)."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from offline.runner import collect_less_often\n"
        "collect_less_often()\n"
        "collect_less_often()\n"
        "print('thresholds:', *gc.get_threshold())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["thresholds: 100000 50 100", "frozen at exit: True"]
