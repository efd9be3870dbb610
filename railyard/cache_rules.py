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
    "DEFAULT_HASHED_ASSET_PATHS",
    "DEFAULT_TTL_SECONDS",
    "ENTRYPOINTS",
    "NO_CACHE",
    "ONE_YEAR",
    "CacheRule",
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


def alibaba_ttl_functions(rules: Sequence[CacheRule]) -> list[tuple[str, dict[str, str]]]:
    """``path_based_ttl_set`` functions of an Alibaba CDN domain, one per rule.

    TTL 0 means the edge does not cache; ``swift_no_cache_low`` makes the edge obey the
    origin's ``no-cache`` too, so the two settings cannot drift apart.
    """
    functions = []
    for rule in rules:
        path = rule.path_pattern[:-1] if rule.is_prefix else rule.path_pattern
        no_cache = rule.edge_ttl_seconds == 0
        functions.append(
            (
                "path_based_ttl_set",
                {
                    "path": path,
                    "ttl": str(rule.edge_ttl_seconds),
                    "weight": str(rule.priority),
                    "swift_origin_cache_high": "on" if no_cache else "off",
                    "swift_no_cache_low": "on" if no_cache else "off",
                },
            )
        )
    return functions
