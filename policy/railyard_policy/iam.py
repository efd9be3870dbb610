"""No administrator wildcards: no policy statement allows every action on every resource."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from railyard_policy.support import resource_policy

DOCUMENT_FIELDS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "alicloud:ram/policy:Policy": "policyDocument",
}
_ALL_ACTIONS = {"*", "*:*"}


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or ())


def wildcard_statements(document: Any) -> Iterator[int]:
    """Indexes of statements that allow ``*``/``*:*`` actions on ``*`` resources."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return
    if not isinstance(document, Mapping):
        return
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, Mapping) else statements or []
    for i, statement in enumerate(statements):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = set(_as_list(statement.get("Action")))
        resources = set(_as_list(statement.get("Resource", "*")))
        if actions & _ALL_ACTIONS and "*" in resources:
            yield i


def check(args: ResourceValidationArgs) -> Iterator[str]:
    field = DOCUMENT_FIELDS.get(args.resource_type)
    if field is None:
        return
    for i in wildcard_statements(args.props.get(field)):
        yield (
            f"{field}.Statement[{i}] allows every action on every resource; "
            "name the actions and resources it needs"
        )


POLICY = resource_policy(
    "iam-no-wildcard-admin",
    "IAM/RAM policies never allow '*' (or '*:*') actions on '*' resources.",
    check,
)
