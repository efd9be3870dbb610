"""IAM roles for Kubernetes service accounts (IRSA): trust one service account, nothing else."""

from __future__ import annotations

import json

import pulumi


def trust_policy(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
) -> pulumi.Output[str]:
    """AssumeRoleWithWebIdentity for exactly ``system:serviceaccount:<ns>:<sa>``, audience STS."""
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda v: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Principal": {"Federated": v[0]},
                        "Condition": {
                            "StringEquals": {
                                f"{v[1]}:sub": subject,
                                f"{v[1]}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            }
        )
    )
