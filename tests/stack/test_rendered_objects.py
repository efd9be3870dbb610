"""`python -m offline.k8s_objects`: the folder Checkov scans, one object per file."""

from __future__ import annotations

import pytest
import typer
import yaml
from typer.testing import CliRunner

from offline import k8s_objects
from offline.runner import SECRET_MASK, run_offline
from railyard.config import ConfigError
from tests.harness import plan_for


def test_every_object_once_per_file_secrets_masked_numbers_whole(tmp_path):
    plan = plan_for("prod")
    objects = k8s_objects.kubernetes_objects(plan)
    (tmp_path / "000-stale.yaml").write_text("kind: Stale\n")
    k8s_objects.write(objects, tmp_path)
    files = sorted(tmp_path.glob("*.yaml"))
    loaded = [yaml.safe_load(f.read_text()) for f in files]
    assert loaded == objects and len(files) == len(objects)  # the stale file is gone
    kinds = {o["kind"] for o in loaded}
    assert {"WorkflowTemplate", "Workflow", "Deployment", "NetworkPolicy", "Namespace"} <= kinds
    assert "Release" not in kinds  # Helm renders the chart at deploy time
    secrets = [o for o in loaded if o["kind"] == "Secret"]
    for secret in secrets:
        values = {**secret.get("data", {}), **secret.get("stringData", {})}
        assert set(values.values()) <= {SECRET_MASK}, secret["metadata"]["name"]
    # a service-account token Secret is filled by Kubernetes; every other one holds data
    assert all(s.get("stringData") for s in secrets if "type" not in s)
    assert any(s["metadata"]["name"] == "argo-workflows-webhook-clients" for s in secrets)
    (bridge,) = (o for o in loaded if o["kind"] == "Deployment")
    assert bridge["spec"]["replicas"] == 2 and isinstance(bridge["spec"]["replicas"], int)
    assert files[0].name == "001-workflowtemplate-workflows-image-promote.yaml"
    # Checkov's Argo runner mistakes a binding for a Workflow: its two pod checks are skipped
    # on the binding alone, with the reason, in the comment form that runner reads
    (binding,) = [f for f in files if "-workfloweventbinding-" in f.name]
    skips = [line for line in binding.read_text().splitlines() if "checkov:skip=" in line]
    assert [s.split("=")[1].split(":")[0] for s in skips] == ["CKV_ARGO_1", "CKV_ARGO_2"]
    assert all("runs no pod" in s for s in skips)
    assert not any("checkov:skip" in f.read_text() for f in files if f != binding)


def test_file_names_keep_to_safe_characters():
    name = k8s_objects.file_name(7, {"kind": "Secret", "metadata": {"name": "../../etc/x y"}})
    assert name == "007-secret-..-..-etc-x-y.yaml" and "/" not in name


def test_cli_writes_the_folder(tmp_path):
    app = typer.Typer()
    app.command()(k8s_objects.main)
    result = CliRunner().invoke(app, ["dev", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"Kubernetes objects of dev written to {tmp_path}/" in result.output
    expected = k8s_objects.kubernetes_objects(plan_for("dev"))
    assert len(list(tmp_path.glob("*.yaml"))) == len(expected)


@pytest.mark.parametrize(
    "url", ["https://kanban.example.com:99999", "https://kanban.example.com:0"]
)
def test_a_board_url_with_an_impossible_port_is_a_config_error(url):
    with pytest.raises(ConfigError) as e:
        run_offline("dev", {"railyard:kanbanBoardUrl": url})
    assert "railyard:kanbanBoardUrl" in str(e.value) and "is not 1-65535" in str(e.value)
