"""Every container image is ``repo@sha256:<64 hex>`` (docs/design.md: digest pinning)."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from railyard_policy.images import images_in_resource, is_pinned
from railyard_policy.support import resource_policy

NAME = "images-pinned-by-digest"
EXEMPT_PREFIXES = "exemptImagePrefixes"


def check(args: ResourceValidationArgs) -> Iterator[str]:
    exempt = tuple(args.get_config().get(EXEMPT_PREFIXES) or ())
    for path, image in images_in_resource(args.resource_type, args.props):
        if is_pinned(image) or (isinstance(image, str) and exempt and image.startswith(exempt)):
            continue
        if not isinstance(image, str) or not image:
            yield f"{path}: no image set; set one pinned by digest (repo@sha256:<64 hex>)"
            continue
        repository = image.split("@", 1)[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        yield (
            f"{path}: {image!r} is not pinned by digest; use {repository}@sha256:<64 hex> "
            "(resolve the tag with the registry, never invent a digest)"
        )


POLICY = resource_policy(
    NAME,
    "Container images in pods, Argo workflows and Helm values are pinned by digest.",
    check,
    config={
        EXEMPT_PREFIXES: {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Image prefixes allowed by tag, e.g. 'registry.internal/sandbox/'.",
        }
    },
)
