"""The PWA in mainland China: a private OSS bucket behind an Alibaba CDN domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud

from components.storage import PrivateOssBucket, PrivateOssBucketArgs
from railyard.cache_rules import CacheRule, alibaba_spa_rewrite, alibaba_ttl_functions


@dataclass
class PwaChinaSiteArgs:
    bucket_prefix: str
    """Prefix of the OSS bucket name (a random suffix keeps it globally unique)."""
    rules: Sequence[CacheRule]
    """The same path rules as CloudFront (railyard.cache_rules.pwa_cache_rules)."""
    domain: str = ""
    """The CDN domain (ICP-filed). Empty: the bucket only, no CDN."""
    certificate_id: str = ""
    """Alibaba Certificate Service id; set: HTTPS only, HTTP/2."""
    spa_fallback: bool = True
    """Serve /index.html for ``/`` and client routes (paths without a dot), as CloudFront does."""
    tags: Mapping[str, str] = field(default_factory=dict)


class PwaChinaSite(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    cdn_domain: str
    cdn_cname: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: PwaChinaSiteArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:delivery:PwaChinaSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        assets = PrivateOssBucket(
            f"{name}-assets",
            PrivateOssBucketArgs(name_prefix=args.bucket_prefix, tags=args.tags),
            opts=child,
        )
        self.bucket_name = assets.name
        self.cdn_domain = args.domain
        self.cdn_cname = None
        if args.domain:
            cdn = alicloud.cdn.DomainNew(
                f"{name}-cdn",
                domain_name=args.domain,
                cdn_type="web",
                scope="domestic",
                sources=[
                    alicloud.cdn.DomainNewSourceArgs(
                        content=assets.extranet_domain, type="oss", port=443, priority=20, weight=10
                    )
                ],
                certificate_config=alicloud.cdn.DomainNewCertificateConfigArgs(
                    cert_type="cas", cert_id=args.certificate_id, server_certificate_status="on"
                )
                if args.certificate_id
                else None,
                tags=dict(args.tags),
                opts=child,
            )
            functions = [
                # the bucket is private: the CDN signs its origin requests (needs the
                # AliyunCDNAccessingPrivateOSSRole service role, see docs/delivery.md)
                ("l2_oss_key", {"private_oss_auth": "on"}),
                *alibaba_ttl_functions(args.rules),
            ]
            if args.spa_fallback:
                functions.append(alibaba_spa_rewrite())
            if args.certificate_id:
                functions += [("https_force", {"enable": "on"}), ("https_option", {"http2": "on"})]
            # One at a time: the CDN API refuses a change while the domain is being configured.
            previous: list[pulumi.Resource] = []
            for i, (function, function_args) in enumerate(functions):
                previous = [
                    alicloud.cdn.DomainConfig(
                        f"{name}-cdn-{i:02d}-{function}",
                        domain_name=cdn.domain_name,
                        function_name=function,
                        function_args=[
                            alicloud.cdn.DomainConfigFunctionArgArgs(arg_name=k, arg_value=v)
                            for k, v in function_args.items()
                        ],
                        opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
                    )
                ]
            self.cdn_cname = cdn.cname
        self.register_outputs(
            {"bucket": self.bucket_name, "cdn_domain": self.cdn_domain, "cdn_cname": self.cdn_cname}
        )
