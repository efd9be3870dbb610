"""AWS IAM policy documents shared by components: pure JSON, no resources."""

from __future__ import annotations

import json


def service_trust(service: str, source_account: str = "", source_arn: str = "") -> str:
    """A role that only the AWS service ``service`` (e.g. ``ec2.amazonaws.com``) may assume.

    ``source_account`` / ``source_arn`` narrow it to the service acting for this account's
    resource (the confused-deputy guard AWS recommends for service roles).
    """
    statement: dict = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"Service": service},
    }
    conditions = {}
    if source_account:
        conditions["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    if conditions:
        statement["Condition"] = conditions
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def put_metrics(namespace: str) -> dict:
    """The statement that lets a role put CloudWatch metrics to ``namespace`` and no other:
    PutMetricData takes no resource, so the namespace condition is the whole limit."""
    return {
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
    }
