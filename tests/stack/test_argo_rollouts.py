"""prod's backend is a canary: Argo Rollouts is installed, pinned and restricted."""

import pytest

from offline.runner import run_offline
from railyard.config import ConfigError
from railyard.config.model import ARGO_IMAGES
from railyard.node_pools import SYSTEM_NODE_LABEL
from tests.harness import plan_for
from tests.pod_security_standard import restricted_violations

ROLLOUTS = "railyard:eks:ArgoRollouts"
RELEASE = "kubernetes:helm.sh/v3:Release"


def test_prod_installs_the_controller_pinned_by_digest_with_its_crds():
    plan = plan_for("prod")
    chart = plan.one(RELEASE, under=ROLLOUTS)
    assert (chart.inputs["chart"], chart.inputs["version"]) == ("argo-rollouts", "2.41.1")
    assert chart.inputs["namespace"] == "argo-rollouts"
    values = chart.inputs["values"]
    image = values["controller"]["image"]
    # the chart renders registry/repository:tag, so the tag carries the digest
    assert f"{image['registry']}/{image['repository']}:{image['tag']}" == ARGO_IMAGES["rollouts"]
    assert image["tag"].startswith("v1.9.1@sha256:15c0d41f")
    assert values["installCRDs"] is True and values["dashboard"] == {"enabled": False}
    # the lane reads and aborts the Rollout with `edit` in the backend namespace
    assert values["createClusterAggregateRoles"] is True
    pod = {
        "securityContext": values["podSecurityContext"],
        "containers": [
            {
                "name": "argo-rollouts",
                "image": ARGO_IMAGES["rollouts"],
                "securityContext": values["containerSecurityContext"],
            }
        ],
    }
    assert restricted_violations(pod) == []
    assert values["controller"]["nodeSelector"] == SYSTEM_NODE_LABEL


def test_the_release_templates_wait_for_the_controller():
    plan = plan_for("prod")
    chart = plan.one(RELEASE, under=ROLLOUTS)
    templates = plan.of_type("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate")
    assert templates and all(chart.urn in t.dependencies for t in templates)


def test_dev_deploys_a_plain_deployment_and_installs_none():
    plan = plan_for("dev")
    assert not [r for r in plan.resources if r.type == ROLLOUTS]
    assert plan.one(RELEASE).inputs["chart"] == "argo-workflows"


def test_an_image_by_tag_is_refused():
    with pytest.raises(ConfigError, match="railyard:argoRolloutsImage"):
        run_offline("prod", {"railyard:argoRolloutsImage": "quay.io/argoproj/argo-rollouts:v1.9.1"})
