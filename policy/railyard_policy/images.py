"""Where container images hide in Kubernetes, Argo and Helm objects, and what "pinned" means.

Pure functions over plain mappings (or the engine's read-only proxies): each finder yields
``(path, image)`` pairs, the path written the way a reviewer finds it in the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

DIGEST_PINNED = re.compile(r"^[^\s@]+@sha256:[a-f0-9]{64}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")

# Kind -> where its pod spec sits. Matched on the kind alone, so v1, v1beta1 and *Patch
# variants of a kind are all covered.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
POD_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

ARGO_GROUP = "argoproj.io"
# Kind -> where its WorkflowSpec sits.
ARGO_WORKFLOW_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Workflow": ("spec",),
    "WorkflowTemplate": ("spec",),
    "ClusterWorkflowTemplate": ("spec",),
    "CronWorkflow": ("spec", "workflowSpec"),
}
HELM_TYPES = (
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v3:Chart",
    "kubernetes:helm.sh/v4:Chart",
)


def is_pinned(image: object) -> bool:
    return isinstance(image, str) and DIGEST_PINNED.match(image) is not None


def kubernetes_kind(type_token: str) -> tuple[str, str] | None:
    """``kubernetes:apps/v1:DeploymentPatch`` -> (``apps``, ``Deployment``); None otherwise."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    group = parts[1].rsplit("/", 1)[0]
    return group, parts[2].removesuffix("Patch").removesuffix("List")


def images_in_resource(type_token: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every image reference in a registered resource's inputs."""
    if type_token in HELM_TYPES:
        yield from images_in_helm_values(props.get("values"), "values")
        return
    kind = kubernetes_kind(type_token)
    if kind is None:
        return
    group, name = kind
    yield from images_in_object(group, name, props, "")


def images_in_object(
    group: str, kind: str, obj: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Any]]:
    """Images in one Kubernetes object (kind known), paths relative to ``prefix``."""
    if group == ARGO_GROUP and kind in ARGO_WORKFLOW_SPEC_PATHS:
        path = ARGO_WORKFLOW_SPEC_PATHS[kind]
        spec = _dig(obj, path)
        if isinstance(spec, Mapping):
            yield from images_in_workflow_spec(spec, _join(prefix, ".".join(path)))
    elif kind in POD_SPEC_PATHS:
        path = POD_SPEC_PATHS[kind]
        spec = _dig(obj, path)
        if isinstance(spec, Mapping):
            yield from images_in_pod_spec(spec, _join(prefix, ".".join(path)))


def images_in_pod_spec(spec: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for field in POD_CONTAINER_LISTS:
        yield from _container_images(spec.get(field), _join(prefix, field))


def images_in_workflow_spec(spec: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    defaults = spec.get("templateDefaults")
    if isinstance(defaults, Mapping):
        yield from images_in_argo_template(defaults, _join(prefix, "templateDefaults"))
    for i, template in enumerate(_seq(spec.get("templates"))):
        if isinstance(template, Mapping):
            yield from images_in_argo_template(template, f"{_join(prefix, 'templates')}[{i}]")


def images_in_argo_template(template: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for field in ("container", "script"):
        box = template.get(field)
        if isinstance(box, Mapping) and "image" in box:
            yield _join(prefix, f"{field}.image"), box["image"]
    container_set = template.get("containerSet")
    if isinstance(container_set, Mapping):
        yield from _container_images(
            container_set.get("containers"), _join(prefix, "containerSet.containers")
        )
    for field in ("initContainers", "sidecars"):
        yield from _container_images(template.get(field), _join(prefix, field))
    # A resource template creates an object from a manifest string (child Workflows of a
    # chunked release): the images in it run too.
    resource = template.get("resource")
    if isinstance(resource, Mapping) and isinstance(resource.get("manifest"), str):
        yield from _images_in_manifest(resource["manifest"], _join(prefix, "resource.manifest"))


def images_in_helm_values(values: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Image settings in chart values: ``image: ref``, or ``{repository, tag|digest}`` maps.

    A ``{repository, tag}`` map yields ``repository:tag`` (or ``repository@digest``) at the
    path of the tag, so an unpinned tag is reported where it is set.
    """
    if isinstance(values, Mapping):
        repository = values.get("repository")
        if isinstance(repository, str):
            yield _helm_image(values, repository, prefix)
        for key, value in values.items():
            path = _join(prefix, str(key))
            if key == "image" and isinstance(value, str):
                tag = values.get("tag")
                yield path, f"{value}:{tag}" if isinstance(tag, str) and tag else value
            elif key != "repository":
                yield from images_in_helm_values(value, path)
    elif _is_seq(values):
        for i, item in enumerate(values):
            yield from images_in_helm_values(item, f"{prefix}[{i}]")


def _helm_image(values: Mapping[str, Any], repository: str, prefix: str) -> tuple[str, str]:
    registry = values.get("registry")
    name = f"{registry}/{repository}" if isinstance(registry, str) and registry else repository
    digest = values.get("digest")
    if isinstance(digest, str) and _DIGEST.match(digest):
        return _join(prefix, "digest"), f"{name}@{digest}"
    tag = values.get("tag")
    if isinstance(tag, str) and tag:
        # argo-helm style: tag "v4.0.8@sha256:<hex>" pins the tag to a digest
        _, _, pinned = tag.partition("@")
        ref = f"{name}@{pinned}" if pinned else f"{name}:{tag}"
        return _join(prefix, "tag"), ref
    return _join(prefix, "repository"), name  # no tag: the chart's default tag


def _images_in_manifest(text: str, prefix: str) -> Iterator[tuple[str, Any]]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return
    for doc in documents:
        if not isinstance(doc, Mapping):
            continue
        group = str(doc.get("apiVersion", "")).rsplit("/", 1)[0]
        yield from images_in_object(group, str(doc.get("kind", "")), doc, prefix)


def _container_images(containers: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for i, container in enumerate(_seq(containers)):
        if isinstance(container, Mapping):
            yield f"{prefix}[{i}].image", container.get("image")


def _dig(obj: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _seq(value: Any) -> Sequence[Any]:
    return value if _is_seq(value) else ()


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _join(prefix: str, rest: str) -> str:
    return f"{prefix}.{rest}" if prefix else rest
