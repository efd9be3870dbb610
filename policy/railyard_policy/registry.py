"""ECR: immutable tags (a tag names one image forever) and a scan of every push."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from railyard_policy.support import get, resource_policy

REPOSITORY = "aws:ecr/repository:Repository"


def check(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type != REPOSITORY:
        return
    mutability = get(args.props, "imageTagMutability")
    if mutability != "IMMUTABLE":
        yield f"imageTagMutability is {mutability!r}; set 'IMMUTABLE'"
    if get(args.props, "imageScanningConfiguration", "scanOnPush") is not True:
        yield "imageScanningConfiguration.scanOnPush must be true"


POLICY = resource_policy(
    "ecr-immutable-and-scanned",
    "ECR repositories have immutable tags and scan images on push.",
    check,
)
