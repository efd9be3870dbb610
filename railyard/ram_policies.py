"""Alibaba RAM policy documents: who may assume a role (OIDC federation) and what it may do.

Pure JSON rendering, no resources: the release pipeline's role and the one-time GitHub Actions
roles in docs/keyless.md use the same trust shape. Alibaba's RAM checks ``oidc:iss``,
``oidc:aud`` and ``oidc:sub`` of the token against the conditions; ``sts:AssumeRole`` is the
action Alibaba's own federation tooling writes for OIDC principals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

STS_AUDIENCE = "sts.aliyuncs.com"
"""The audience (client id) federated tokens carry; the OIDC provider lists it."""


def service_account_subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def oidc_trust(
    provider_arn: str, issuer_url: str, subject: str, audience: str = STS_AUDIENCE
) -> str:
    """Trust exactly one subject of one issuer, for one audience."""
    if not issuer_url.startswith("https://"):
        raise ValueError(f"issuer {issuer_url!r}: RAM takes an https:// issuer URL")
    return json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"Federated": [provider_arn]},
                    "Condition": {
                        "StringEquals": {
                            "oidc:iss": issuer_url,
                            "oidc:aud": audience,
                            "oidc:sub": subject,
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def release_policy(buckets: Sequence[str], cdn_domain: str) -> str:
    """What release pods do on Alibaba: objects of the PWA and APK buckets, refresh one CDN domain.

    CDN authorizes per domain (``acs:cdn:*:<account>:domain/<name>``, CDN "RAM authorization");
    no CDN statement at all when the stack has no China CDN domain.
    """
    statements: list[dict] = [
        {
            "Effect": "Allow",
            "Action": [
                "oss:GetObject",
                "oss:PutObject",
                "oss:DeleteObject",
                "oss:ListObjects",
                "oss:GetBucketInfo",
                # large files go up in parts; a failed upload must be able to clean up
                "oss:AbortMultipartUpload",
                "oss:ListParts",
            ],
            "Resource": [f"acs:oss:*:*:{x}" for b in buckets for x in (b, f"{b}/*")],
        }
    ]
    if cdn_domain:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["cdn:RefreshObjectCaches"],
                "Resource": [f"acs:cdn:*:*:domain/{cdn_domain}"],
            }
        )
    return json.dumps({"Version": "1", "Statement": statements}, sort_keys=True)
