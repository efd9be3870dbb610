"""Pulumi.yaml, the stack files and railyard.config agree."""

from pathlib import Path

import yaml

from railyard import config

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def _declared_type(field):
    schema = config.StackConfig.model_json_schema(by_alias=True)["properties"][field.alias]
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])} - {None, "null"}
    return kinds.pop() if len(kinds) == 1 else "string"


def test_project_runs_the_stacks_folder_in_a_virtualenv():
    assert PROJECT["name"] == config.PROJECT
    assert PROJECT["runtime"]["name"] == "python"
    assert PROJECT["runtime"]["options"]["virtualenv"]
    assert (ROOT / PROJECT["main"] / "__main__.py").exists()


def test_every_non_secret_project_key_is_declared_with_type_default_and_description():
    declared = {f"{config.PROJECT}:{k}": v for k, v in PROJECT["config"].items()}
    model_keys = {
        key: field
        for key, (_, field) in config.FIELDS_BY_KEY.items()
        if key.startswith(f"{config.PROJECT}:") and key not in config.SECRET_KEYS
    }
    assert set(declared) == set(model_keys)
    for key, field in model_keys.items():
        d = declared[key]
        assert d["type"] == _declared_type(field), key
        assert d["description"] == field.description, key
        if field.is_required():
            assert "default" not in d, key
        else:
            default = field.get_default(call_default_factory=True)
            expected = [str(x) for x in default] if isinstance(default, list) else default
            if not isinstance(expected, list | int | bool | type(None)):
                expected = str(expected)
            assert d.get("default") == expected, key


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


def test_docs_list_every_config_key_with_its_description():
    docs = (ROOT / "docs" / "config.md").read_text()
    for key, (_, field) in config.FIELDS_BY_KEY.items():
        assert f"| `{key}` |" in docs, f"{key} missing from docs/config.md"
        assert field.description in docs, f"description of {key} differs in docs/config.md"


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
