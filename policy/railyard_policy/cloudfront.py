"""CloudFront: viewers on HTTPS only, S3 origins through Origin Access Control."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from railyard_policy.support import get, resource_policy

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
HTTPS_VIEWER_POLICIES = {"redirect-to-https", "https-only"}
# The oldest security policy that still refuses TLS 1.0/1.1.
MIN_TLS = "TLSv1.2_2021"
_TLS_ORDER = [
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
]


def check(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type != DISTRIBUTION:
        return
    props = args.props
    behaviours = [("defaultCacheBehavior", get(props, "defaultCacheBehavior") or {})]
    behaviours += [
        (f"orderedCacheBehaviors[{i}]", b)
        for i, b in enumerate(get(props, "orderedCacheBehaviors") or ())
    ]
    for path, behaviour in behaviours:
        policy = get(behaviour, "viewerProtocolPolicy")
        if policy not in HTTPS_VIEWER_POLICIES:
            yield f"{path}.viewerProtocolPolicy is {policy!r}; use 'redirect-to-https'"
    for i, origin in enumerate(get(props, "origins") or ()):
        path = f"origins[{i}]"
        custom = get(origin, "customOriginConfig")
        if custom:
            if get(custom, "originProtocolPolicy") != "https-only":
                yield f"{path}.customOriginConfig.originProtocolPolicy must be 'https-only'"
            continue
        if get(origin, "s3OriginConfig", "originAccessIdentity"):
            yield f"{path}: uses a legacy origin access identity; use originAccessControlId (OAC)"
        if not get(origin, "originAccessControlId"):
            yield f"{path}: S3 origin without originAccessControlId; add an OriginAccessControl"
    certificate = get(props, "viewerCertificate") or {}
    if not get(certificate, "cloudfrontDefaultCertificate"):
        version = get(certificate, "minimumProtocolVersion")
        if version not in _TLS_ORDER or _TLS_ORDER.index(version) < _TLS_ORDER.index(MIN_TLS):
            yield f"viewerCertificate.minimumProtocolVersion is {version!r}; use {MIN_TLS} or newer"


POLICY = resource_policy(
    "cloudfront-https-and-oac",
    "CloudFront serves viewers over HTTPS only and reads S3 through Origin Access Control.",
    check,
)
