"""railyard's policies, importable without starting a policy pack (docs/design.md: policy pack).

``policy/__main__.py`` builds the pack for the Pulumi engine; ``offline/policies.py`` runs
the same policies over the offline plan.
"""

from __future__ import annotations

from pulumi_policy import Policy

from railyard_policy import (
    cloudfront,
    compute,
    digest_pinning,
    iam,
    network,
    registry,
    secrets,
    storage,
    vpn,
)

PACK_NAME = "railyard"

POLICIES: list[Policy] = [
    digest_pinning.POLICY,
    storage.S3_POLICY,
    storage.OSS_POLICY,
    cloudfront.POLICY,
    network.POLICY,
    compute.IMDS_POLICY,
    compute.EKS_ENDPOINT_POLICY,
    registry.POLICY,
    secrets.POLICY,
    iam.POLICY,
    vpn.POLICY,
]
