"""The policy pack over the offline plan of the real program (offline/policies.py)."""

import dataclasses
import json

import pulumi_kubernetes as k8s
import pytest

from offline.policies import evaluate, load_policy_config
from offline.recorder import OfflinePlan
from offline.runner import run_offline
from railyard.config import ConfigError
from stacks.program import main as real_program
from tests.harness import plan_for

POD = "kubernetes:core/v1:Pod"


def test_committed_stacks_have_no_violation_at_all(stack_plan):
    assert evaluate(stack_plan) == []


def with_tagged_pod() -> None:
    """The real program plus one pod whose image is a tag, as a careless change would add."""
    real_program()
    k8s.core.v1.Pod(
        "legacy-debug",
        spec=k8s.core.v1.PodSpecArgs(
            containers=[k8s.core.v1.ContainerArgs(name="shell", image="busybox:1.36")]
        ),
    )


def test_an_image_by_tag_is_a_mandatory_violation_naming_resource_and_field():
    plan = run_offline("dev", program=with_tagged_pod)
    (verdict,) = evaluate(plan)
    assert verdict.mandatory and verdict.policy == "images-pinned-by-digest"
    assert plan.by_urn(verdict.urn).type == POD and verdict.urn.endswith("::legacy-debug")
    assert verdict.message.startswith("spec.containers[0].image: 'busybox:1.36' is not pinned")


def without(plan: OfflinePlan, type_token: str, index: int = 0) -> OfflinePlan:
    gone = plan.of_type(type_token)[index]
    return OfflinePlan(plan.stack, [r for r in plan.resources if r is not gone], plan.outputs)


def test_stack_policies_follow_the_real_dependencies():
    plan = plan_for("prod")
    apks, site = plan.of_type("alicloud:oss/bucket:Bucket")
    pruned = without(plan, "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock")
    (verdict,) = evaluate(pruned)
    assert verdict.policy == "oss-buckets-private"
    assert verdict.urn in (apks.urn, site.urn)
    assert "no BucketPublicAccessBlock" in verdict.message


def test_a_credential_that_is_not_secret_is_found_offline():
    plan = plan_for("dev")
    connection = plan.of_type("aws:ec2/vpnConnection:VpnConnection")[0]
    leaked = dataclasses.replace(connection, secret_paths=[])
    plan = OfflinePlan(
        plan.stack, [leaked if r is connection else r for r in plan.resources], plan.outputs
    )
    verdicts = evaluate(plan)
    assert {v.policy for v in verdicts} == {"credentials-are-secrets"}
    assert sorted(v.message.split(" ")[0] for v in verdicts) == [
        "tunnel1PresharedKey",
        "tunnel2PresharedKey",
    ]


def test_enforcement_levels_and_exemptions_come_from_policy_config(tmp_path):
    plan = run_offline("dev", program=with_tagged_pod)
    advisory = tmp_path / "advisory.json"
    advisory.write_text(json.dumps({"images-pinned-by-digest": "advisory"}))
    (verdict,) = evaluate(plan, load_policy_config(advisory))
    assert verdict.enforcement == "advisory" and not verdict.mandatory

    disabled = tmp_path / "disabled.json"
    disabled.write_text(json.dumps({"all": "disabled"}))
    assert evaluate(plan, load_policy_config(disabled)) == []

    exempt = tmp_path / "exempt.json"
    exempt.write_text(
        json.dumps({"images-pinned-by-digest": {"exemptImagePrefixes": ["busybox:"]}})
    )
    assert evaluate(plan, load_policy_config(exempt)) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"image-pinning": "mandatory"}, "image-pinning: no such policy"),
        ({"iam-no-wildcard-admin": "strict"}, "enforcementLevel 'strict'"),
        ({"images-pinned-by-digest": {"exempt": []}}, "unknown properties ['exempt']"),
        ({"iam-no-wildcard-admin": ["advisory"]}, "use a level or an object"),
        (["mandatory"], "is not a JSON object"),
    ],
)
def test_bad_policy_config_is_refused_with_the_fix(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError) as e:
        load_policy_config(path)
    assert message in str(e.value)


def test_the_committed_policy_config_is_valid():
    settings = load_policy_config()
    assert settings["eks-endpoint-private-in-production"].config["productionStacks"] == ["prod"]
    assert all(s.enforcement.value == "mandatory" for s in settings.values())
