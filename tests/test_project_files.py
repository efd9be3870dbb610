"""Pulumi.yaml, the stack files and the policy pack fit the project.

Pulumi.yaml's config block is generated from railyard.config (tests/test_config_files.py).
"""

from pathlib import Path

import yaml

from railyard import config

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_project_runs_the_stacks_folder_in_a_virtualenv():
    assert PROJECT["name"] == config.PROJECT
    assert PROJECT["runtime"]["name"] == "python"
    assert PROJECT["runtime"]["options"]["virtualenv"]
    assert (ROOT / PROJECT["main"] / "__main__.py").exists()


def test_secret_keys_are_not_declared_and_not_in_stack_files():
    for key in config.SECRET_KEYS:
        assert key.split(":")[1] not in PROJECT["config"]
        for stack_file in ROOT.glob("Pulumi.*.yaml"):
            values = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {})
            value = values.get(key)
            assert value is None or "secure" in str(value), f"{key} in plaintext in {stack_file}"


def test_stack_files_use_the_regions_of_the_design():
    for stack in ("dev", "prod"):
        values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert values["aws:region"] == "us-east-1"
        assert values["alicloud:region"] == "cn-hangzhou"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith(("-r", "-e ./")):  # other files; this repo's packages
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_policy_pack_pins_the_same_versions_as_the_project():
    project = _pins(ROOT / "requirements.txt")
    pack = _pins(ROOT / "policy" / "requirements.txt")
    assert {name: project.get(name) for name in pack} == pack


def test_policy_pack_project_file_runs_python_in_its_own_virtualenv():
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert "policy/venv/" in (ROOT / ".gitignore").read_text()


def test_every_release_manifest_in_the_repo_is_valid():
    from railyard_runtime.release import manifest

    files = sorted((ROOT / "releases").glob("*.yaml"))
    assert files
    for path in files:
        manifest.load(path)  # raises with FILE:LINE problems
