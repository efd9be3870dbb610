"""``images promote``: give an ECR image a new tag without pulling it.

``batch_get_image`` returns the manifest; ``put_image`` with those exact bytes, their media
type and the digest adds a tag to the same image. Repositories are tag-immutable, so a retry
meets ``ImageAlreadyExistsException`` or ``ImageTagAlreadyExistsException``: done when the
tag names the same digest, refused when it names another image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime.errors import BadInput, StepError

MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
ALREADY = ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class Promotion(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    repository: str
    source_tag: str
    target_tag: str
    digest: str
    outcome: Literal["tagged", "already-tagged"]


def target_tag(source_tag: str, destination_prefix: str) -> str:
    """``dev_123`` with prefix ``stage_us`` is ``stage_us_123``."""
    _, sep, number = source_tag.rpartition("_")
    if not sep or not number:
        raise BadInput(f"sourceTag {source_tag!r}: expected <prefix>_<build>, such as dev_123")
    return f"{destination_prefix}_{number}"


def promote(ecr, repository: str, source_tag: str, to_tag: str) -> Promotion:
    for name, tag in (("--from", source_tag), ("--to", to_tag)):
        if not _TAG.match(tag):
            raise BadInput(f"{name} {tag!r}: not a valid image tag (letters, digits, . _ -)")
    found = ecr.batch_get_image(
        repositoryName=repository,
        imageIds=[{"imageTag": source_tag}],
        acceptedMediaTypes=MEDIA_TYPES,
    )
    if not found["images"]:
        why = found["failures"][0]["failureReason"] if found.get("failures") else "not found"
        raise StepError(f"{repository}:{source_tag}: {why}")
    image = found["images"][0]
    digest = image["imageId"]["imageDigest"]
    args = dict(
        repositoryName=repository,
        imageManifest=image["imageManifest"],
        imageTag=to_tag,
        imageDigest=digest,
    )
    if media_type := image.get("imageManifestMediaType"):
        args["imageManifestMediaType"] = media_type
    result = Promotion(
        repository=repository,
        source_tag=source_tag,
        target_tag=to_tag,
        digest=digest,
        outcome="tagged",
    )
    try:
        ecr.put_image(**args)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ALREADY:
            raise
        # Done before, or the tag is taken: it is done only if the tag names this digest.
        existing = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": to_tag}])
        tagged = existing["imageDetails"][0]["imageDigest"]
        if tagged != digest:
            raise StepError(
                f"{repository}:{to_tag} already names another image ({tagged}, not {digest}); "
                "tags are immutable: promote under a new build number"
            ) from e
        return result.model_copy(update={"outcome": "already-tagged"})
    return result


def promote_all(ecr, moves: Iterable[tuple[str, str, str]]) -> list[Promotion]:
    return [promote(ecr, repo, source, target) for repo, source, target in moves]
