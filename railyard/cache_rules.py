"""How the PWA cache rules become CloudFront and Alibaba CDN settings.

The rules themselves live once, in ``railyard_runtime.cache_rules``: the publish step sets each
object's ``Cache-Control`` from them and the CDNs here get the matching edge TTLs.
"""

from __future__ import annotations

from collections.abc import Sequence

from railyard_runtime.cache_rules import (
    DEFAULT_HASHED_ASSET_PATHS,
    DEFAULT_TTL_SECONDS,
    ENTRYPOINTS,
    NO_CACHE,
    ONE_YEAR,
    CacheRule,
    cache_control_for,
    default_rule,
    pattern_problem,
    pwa_cache_rules,
    rule_for,
)

__all__ = [
    "ALIBABA_TTL_RANGE",
    "DEFAULT_HASHED_ASSET_PATHS",
    "DEFAULT_TTL_SECONDS",
    "ENTRYPOINTS",
    "NO_CACHE",
    "ONE_YEAR",
    "SPA_REWRITE",
    "CacheRule",
    "alibaba_spa_rewrite",
    "alibaba_ttl_functions",
    "cache_control_for",
    "cloudfront_ttls",
    "default_rule",
    "pattern_problem",
    "pwa_cache_rules",
    "rule_for",
]


def cloudfront_ttls(rule: CacheRule) -> tuple[int, int, int]:
    """(min, default, max) TTL of the CloudFront cache policy for a rule.

    Hashed assets pin all three (the edge keeps them whatever the origin says); entrypoints
    with TTL 0 make every request go to the origin, which answers 304 when unchanged.
    """
    if rule.edge_ttl_seconds == 0:
        return 0, 0, 0
    if rule.path_pattern == "*":
        return 0, rule.edge_ttl_seconds, rule.edge_ttl_seconds
    return rule.edge_ttl_seconds, rule.edge_ttl_seconds, rule.edge_ttl_seconds


# Alibaba CDN ``path_based_ttl_set``: ``ttl`` is documented as 1-99999999 (BatchSetCdnDomainConfig,
# "Parameters for configuring features for domain names").
ALIBABA_TTL_RANGE = (1, 99_999_999)


def alibaba_ttl_functions(rules: Sequence[CacheRule]) -> list[tuple[str, dict[str, str]]]:
    """``path_based_ttl_set`` functions of an Alibaba CDN domain, one per rule.

    An edge TTL of 0 (the entrypoints) has no direct spelling: the API's smallest TTL is 1 s.
    Instead the origin's headers win (``swift_origin_cache_high=on``), its ``no-cache`` is
    obeyed (``swift_no_cache_low=off``; ``on`` would *ignore* it) and every request is
    revalidated (``force_revalidate=on``) - the same as CloudFront's TTL 0 with 304s.
    """
    functions = []
    for rule in rules:
        path = rule.path_pattern[:-1] if rule.is_prefix else rule.path_pattern
        revalidate = rule.edge_ttl_seconds == 0
        functions.append(
            (
                "path_based_ttl_set",
                {
                    "path": path,
                    "ttl": str(max(rule.edge_ttl_seconds, ALIBABA_TTL_RANGE[0])),
                    "weight": str(rule.priority),
                    "swift_origin_cache_high": "on" if revalidate else "off",
                    "swift_no_cache_low": "off",
                    "force_revalidate": "on" if revalidate else "off",
                },
            )
        )
    return functions


# Client-side routes: ``/`` and every path without a dot is fetched from the origin as
# /index.html (the cache key stays the requested path). OSS website hosting cannot do this for
# a private bucket behind the CDN (its index document conflicts with signed origin requests).
SPA_REWRITE = {"source_url": "^/[^.]*$", "target_url": "/index.html", "flag": "break"}


def alibaba_spa_rewrite() -> tuple[str, dict[str, str]]:
    """The ``back_to_origin_url_rewrite`` function serving the app shell for client routes."""
    return ("back_to_origin_url_rewrite", dict(SPA_REWRITE))
