"""images-pinned-by-digest: every image field the engine can hand us, pinned and unpinned."""

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from railyard_policy import digest_pinning
from tests.policy.helpers import resource_violations

POLICY = digest_pinning.POLICY
# Real, published digests: the stack's defaults (railyard/config/model.py).
PINNED = (
    "registry.k8s.io/kubectl@sha256:"
    "b0d792e0d8dfb9bb1b922b78b23137e2a34bb6f9667640353a9d2aadd1fd7761"
)
EXECUTOR = "argoexec@sha256:86a965d7eea176959351156e24f3a2fa8d8e342e477ef425009af95a12e3fe87"
BY_TAG = "registry.k8s.io/kubectl:v1.36.2"


def pod(image: str, init: str = PINNED, ephemeral: str = PINNED) -> dict:
    return {
        "containers": [{"name": "main", "image": PINNED}, {"name": "side", "image": image}],
        "initContainers": [{"name": "init", "image": init}],
        "ephemeralContainers": [{"name": "debug", "image": ephemeral}],
    }


def check(type_token: str, props: dict, **kw) -> list[str]:
    return resource_violations(POLICY, type_token, props, **kw)


@pytest.mark.parametrize(
    ("type_token", "wrap", "prefix"),
    [
        ("kubernetes:core/v1:Pod", lambda p: {"spec": p}, "spec"),
        (
            "kubernetes:apps/v1:Deployment",
            lambda p: {"spec": {"template": {"spec": p}}},
            "spec.template.spec",
        ),
        (
            "kubernetes:apps/v1:StatefulSet",
            lambda p: {"spec": {"template": {"spec": p}}},
            "spec.template.spec",
        ),
        (
            "kubernetes:apps/v1:DaemonSet",
            lambda p: {"spec": {"template": {"spec": p}}},
            "spec.template.spec",
        ),
        (
            "kubernetes:apps/v1:ReplicaSet",
            lambda p: {"spec": {"template": {"spec": p}}},
            "spec.template.spec",
        ),
        (
            "kubernetes:batch/v1:Job",
            lambda p: {"spec": {"template": {"spec": p}}},
            "spec.template.spec",
        ),
        (
            "kubernetes:apps/v1:DeploymentPatch",
            lambda p: {"spec": {"template": {"spec": p}}},
            "spec.template.spec",
        ),
        (
            "kubernetes:batch/v1:CronJob",
            lambda p: {"spec": {"jobTemplate": {"spec": {"template": {"spec": p}}}}},
            "spec.jobTemplate.spec.template.spec",
        ),
    ],
)
def test_pod_bearing_kinds(type_token, wrap, prefix):
    assert check(type_token, wrap(pod(PINNED))) == []
    (message,) = check(type_token, wrap(pod(BY_TAG)))
    assert message.startswith(f"{prefix}.containers[1].image: 'registry.k8s.io/kubectl:v1.36.2'")
    assert "registry.k8s.io/kubectl@sha256:<64 hex>" in message


def test_cron_job_init_and_ephemeral_containers():
    spec = {
        "spec": {"jobTemplate": {"spec": {"template": {"spec": pod(PINNED, BY_TAG, "busybox")}}}}
    }
    messages = check("kubernetes:batch/v1:CronJob", spec)
    base = "spec.jobTemplate.spec.template.spec"
    assert [m.split(":")[0] for m in messages] == [
        f"{base}.initContainers[0].image",
        f"{base}.ephemeralContainers[0].image",
    ]


def test_a_missing_image_is_a_violation_too():
    (message,) = check("kubernetes:core/v1:Pod", {"spec": {"containers": [{"name": "x"}]}})
    assert message.startswith("spec.containers[0].image: no image set")


def test_almost_digests_are_refused():
    for image in (
        PINNED[:-1],  # 63 hex
        PINNED.upper().replace("SHA256", "sha256"),  # upper-case hex
        PINNED.replace("sha256", "sha512"),
        "registry.k8s.io/kubectl:v1.36.2@sha256",
    ):
        assert check("kubernetes:core/v1:Pod", {"spec": pod(image)}), image


def workflow_spec(image: str) -> dict:
    return {
        "templateDefaults": {"container": {"image": image}},
        "templates": [
            {"name": "a", "container": {"image": PINNED}},
            {"name": "b", "script": {"image": image, "source": "true"}},
            {"name": "c", "containerSet": {"containers": [{"name": "x", "image": image}]}},
            {
                "name": "d",
                "container": {"image": PINNED},
                "initContainers": [{"image": image}],
                "sidecars": [{"name": "s", "image": image}],
            },
        ],
    }


@pytest.mark.parametrize(
    ("kind", "wrap", "prefix"),
    [
        ("Workflow", lambda s: {"spec": s}, "spec"),
        ("WorkflowTemplate", lambda s: {"spec": s}, "spec"),
        ("ClusterWorkflowTemplate", lambda s: {"spec": s}, "spec"),
        ("CronWorkflow", lambda s: {"spec": {"workflowSpec": s}}, "spec.workflowSpec"),
    ],
)
def test_argo_kinds_every_template_image_field(kind, wrap, prefix):
    type_token = f"kubernetes:argoproj.io/v1alpha1:{kind}"
    assert check(type_token, wrap(workflow_spec(EXECUTOR))) == []
    paths = [m.split(":")[0] for m in check(type_token, wrap(workflow_spec("alpine:3.20")))]
    assert paths == [
        f"{prefix}.templateDefaults.container.image",
        f"{prefix}.templates[1].script.image",
        f"{prefix}.templates[2].containerSet.containers[0].image",
        f"{prefix}.templates[3].initContainers[0].image",
        f"{prefix}.templates[3].sidecars[0].image",
    ]


def test_child_workflows_created_by_a_resource_template_are_checked():
    manifest = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"
        "spec:\n  templates:\n  - name: x\n    container:\n      image: alpine:3.20\n"
    )
    spec = {
        "spec": {
            "templates": [{"name": "chunk", "resource": {"action": "create", "manifest": manifest}}]
        }
    }
    (message,) = check("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate", spec)
    assert message.startswith("spec.templates[0].resource.manifest.spec.templates[0].container")


def test_helm_values_image_maps_and_strings():
    values = {
        "controller": {
            "image": {
                "registry": "quay.io",
                "repository": "argoproj/workflow-controller",
                "tag": "v4.0.8@sha256:"
                + "7a156419f80285859fc8f859927b6cc249f0d128e161e080dc17fca8fcbbceb6",
            }
        },
        "executor": {"image": {"repository": "quay.io/argoproj/argoexec", "tag": "v4.0.8"}},
        "server": {"image": {"repository": "quay.io/argoproj/argocli"}},
        "extra": {"image": "nginx:1.27"},
        "pinned": {"image": {"repository": "x/y", "digest": "sha256:" + "a" * 64}},
        "sidecars": [{"image": "busybox"}],
    }
    for type_token in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"):
        paths = [m.split(":")[0] for m in check(type_token, {"values": values})]
        assert paths == [
            "values.executor.image.tag",
            "values.server.image.repository",
            "values.extra.image",
            "values.sidecars[0].image",
        ]


def test_exemptions_are_by_exact_image_prefix():
    props = {"spec": pod("registry.internal/sandbox/tool:dev")}
    exempt = {"exemptImagePrefixes": ["registry.internal/sandbox/"], "exemptResources": []}
    assert check("kubernetes:core/v1:Pod", props, config=exempt) == []
    near = {"exemptImagePrefixes": ["registry.internal/sandbox-2/"], "exemptResources": []}
    assert check("kubernetes:core/v1:Pod", props, config=near)


def test_exempt_resources_by_name():
    props = {"spec": pod(BY_TAG)}
    config = {"exemptImagePrefixes": [], "exemptResources": ["legacy-pod"]}
    assert check("kubernetes:core/v1:Pod", props, name="legacy-pod", config=config) == []
    assert check("kubernetes:core/v1:Pod", props, name="other", config=config)


def test_other_resources_and_unknown_images():
    assert check("aws:s3/bucket:Bucket", {"image": "nginx"}) == []
    with pytest.raises(UnknownValueError):  # the engine reports "can't check during preview"
        check("kubernetes:core/v1:Pod", {"spec": pod(UNKNOWN_STRING_VALUE)})
