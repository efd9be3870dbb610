"""The PWA outside China: a private S3 bucket behind CloudFront with Origin Access Control."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.storage import PrivateS3Bucket, PrivateS3BucketArgs
from railyard.cache_rules import CacheRule, cloudfront_ttls

ORIGIN_ID = "pwa-bucket"


@dataclass
class PwaAwsSiteArgs:
    rules: Sequence[CacheRule]
    """Path rules, highest priority first (railyard.cache_rules.pwa_cache_rules)."""
    default_rule: CacheRule
    """The rule of every other path (the distribution's default behavior)."""
    keep_releases: int
    """Older versions of each object kept in the bucket."""
    spa_fallback: bool = True
    """Answer 403/404 with /index.html (client-side routing)."""
    domain: str = ""
    """Custom domain; empty: the distribution's own cloudfront.net name."""
    certificate_arn: str = ""
    """ACM certificate in us-east-1 for ``domain``."""


class PwaAwsSite(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    distribution_id: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PwaAwsSiteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:delivery:PwaAwsSite", name, None, opts)
        assets = self._bucket(name, args)
        oac = self._origin_access(name)
        headers = self._security_headers(name)
        cache_policies = self._cache_policies(name, [args.default_rule, *_by_priority(args.rules)])
        distribution = self._distribution(name, args, assets, oac, headers, cache_policies)
        self._bucket_policy(name, assets, distribution)

        self.bucket_name = assets.name
        self.distribution_id = distribution.id
        self.url = (
            pulumi.Output.from_input(f"https://{args.domain}")
            if args.domain
            else pulumi.Output.concat("https://", distribution.domain_name)
        )
        self.register_outputs(
            {"bucket": self.bucket_name, "distribution_id": self.distribution_id, "url": self.url}
        )

    def _bucket(self, name: str, args: PwaAwsSiteArgs) -> PrivateS3Bucket:
        """The private bucket of the site's files, keeping older releases for rollback."""
        return PrivateS3Bucket(
            f"{name}-assets",
            PrivateS3BucketArgs(keep_noncurrent_versions=args.keep_releases),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _origin_access(self, name: str) -> aws.cloudfront.OriginAccessControl:
        """Origin Access Control: CloudFront signs its requests, so the bucket stays private."""
        return aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            description="CloudFront signs every request to the PWA bucket",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _security_headers(self, name: str) -> aws.cloudfront.ResponseHeadersPolicy:
        """HSTS, nosniff, no framing, a strict referrer and XSS protection on every answer."""
        return aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            comment="railyard PWA security headers",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=63072000,
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
                xss_protection=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigXssProtectionArgs(
                    protection=True, mode_block=True, override=True
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _cache_policies(
        self, name: str, rules: Sequence[CacheRule]
    ) -> dict[tuple[int, int, int], aws.cloudfront.CachePolicy]:
        """One cache policy per distinct (min, default, max) TTL among the rules."""
        policies: dict[tuple[int, int, int], aws.cloudfront.CachePolicy] = {}
        for rule in rules:
            ttls = cloudfront_ttls(rule)
            if ttls in policies:
                continue
            caches = ttls[2] > 0  # with max TTL 0 CloudFront refuses compression keys
            policies[ttls] = aws.cloudfront.CachePolicy(
                f"{name}-ttl-{'-'.join(map(str, ttls))}",
                comment=f"railyard PWA: min/default/max TTL {ttls}",
                min_ttl=ttls[0],
                default_ttl=ttls[1],
                max_ttl=ttls[2],
                parameters_in_cache_key_and_forwarded_to_origin=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs(
                    cookies_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs(
                        cookie_behavior="none"
                    ),
                    headers_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs(
                        header_behavior="none"
                    ),
                    query_strings_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
                        query_string_behavior="none"
                    ),
                    enable_accept_encoding_gzip=caches,
                    enable_accept_encoding_brotli=caches,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return policies

    def _distribution(
        self,
        name: str,
        args: PwaAwsSiteArgs,
        assets: PrivateS3Bucket,
        oac: aws.cloudfront.OriginAccessControl,
        headers: aws.cloudfront.ResponseHeadersPolicy,
        cache_policies: Mapping[tuple[int, int, int], aws.cloudfront.CachePolicy],
    ) -> aws.cloudfront.Distribution:
        """CloudFront in front of the bucket: one behavior per path rule, highest priority first."""

        def behavior(rule: CacheRule) -> dict[str, object]:
            return {
                "target_origin_id": ORIGIN_ID,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": cache_policies[cloudfront_ttls(rule)].id,
                "response_headers_policy_id": headers.id,
            }

        return aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            default_root_object="index.html",
            comment=f"railyard PWA ({name})",
            aliases=[args.domain] if args.domain else None,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=ORIGIN_ID,
                    domain_name=assets.bucket.bucket_regional_domain_name,
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                **behavior(args.default_rule)
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=rule.path_pattern, **behavior(rule)
                )
                for rule in _by_priority(args.rules)
            ],
            custom_error_responses=[
                aws.cloudfront.DistributionCustomErrorResponseArgs(
                    error_code=code,
                    response_code=200,
                    response_page_path="/index.html",
                    error_caching_min_ttl=0,
                )
                for code in (403, 404)
            ]
            if args.spa_fallback
            else None,
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=args.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            )
            if args.certificate_arn
            else aws.cloudfront.DistributionViewerCertificateArgs(
                cloudfront_default_certificate=True
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _bucket_policy(
        self, name: str, assets: PrivateS3Bucket, distribution: aws.cloudfront.Distribution
    ) -> None:
        """Only this distribution may read the bucket, and only over TLS."""
        aws.s3.BucketPolicy(
            f"{name}-assets",
            bucket=assets.bucket.id,
            policy=pulumi.Output.all(assets.arn, distribution.arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "CloudFrontReadsThroughOAC",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Action": "s3:GetObject",
                                "Resource": f"{a[0]}/*",
                                "Condition": {"StringEquals": {"AWS:SourceArn": a[1]}},
                            },
                            {
                                "Sid": "DenyInsecureTransport",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [a[0], f"{a[0]}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                        ],
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _by_priority(rules: Sequence[CacheRule]) -> list[CacheRule]:
    return sorted(rules, key=lambda r: -r.priority)
