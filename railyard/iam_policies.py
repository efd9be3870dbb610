"""AWS IAM policy documents shared by components: pure JSON, no resources."""

from __future__ import annotations

import json


def service_trust(service: str) -> str:
    """A role that only the AWS service ``service`` (e.g. ``ec2.amazonaws.com``) may assume."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}
            ],
        }
    )
