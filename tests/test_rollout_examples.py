"""The canary examples in docs/ fit the stack they are written for."""

from pathlib import Path

import yaml

from offline.stack_files import load_stack_config
from railyard.config import load as load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def test_the_rollout_is_the_workload_prod_waits_on_and_its_analysis_exists():
    rollout = yaml.safe_load((EXAMPLES / "rollout.yaml").read_text())
    analysis = yaml.safe_load((EXAMPLES / "analysis-template.yaml").read_text())
    assert (rollout["kind"], analysis["kind"]) == ("Rollout", "AnalysisTemplate")
    values, secret_keys = load_stack_config("prod")
    cfg = load_config(values, secret_keys)
    assert f"rollout/{rollout['metadata']['name']}" == cfg.release_backend_workload
    assert rollout["metadata"]["namespace"] == cfg.release_backend_namespace
    assert analysis["metadata"]["namespace"] == cfg.release_backend_namespace
    canary = rollout["spec"]["strategy"]["canary"]
    assert [t["templateName"] for t in canary["analysis"]["templates"]] == [
        analysis["metadata"]["name"]
    ]
    # no pod template of its own: the image stays pinned where the Deployment has it
    assert (
        "template" not in rollout["spec"] and rollout["spec"]["workloadRef"]["kind"] == "Deployment"
    )
    assert rollout["spec"]["progressDeadlineAbort"] is True
