"""Cache rules of the PWA, once, for the publish step and both CDNs.

The service worker URL stays stable (``/sw.js``): browsers only re-check the URL they
registered. So the three entrypoints are never served from an edge without asking the origin,
and content-hashed assets are cached for a year as immutable. ``CloudFront`` and Alibaba CDN
settings are rendered from the same ``CacheRule`` list (``railyard.cache_rules``, in the stack);
the publisher sets ``cache_control`` on each object from ``cache_control_for``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

ENTRYPOINTS = ("/sw.js", "/index.html", "/asset-manifest.json")
NO_CACHE = "no-cache"
ONE_YEAR = 31_536_000
DEFAULT_HASHED_ASSET_PATHS = ("/assets/*", "/static/*")
DEFAULT_TTL_SECONDS = 300


@dataclass(frozen=True)
class CacheRule:
    path_pattern: str
    """CloudFront path pattern: an exact path or a prefix ending in ``/*``."""
    cache_control: str
    """``Cache-Control`` the publisher puts on matching objects (what browsers obey)."""
    edge_ttl_seconds: int
    """How long an edge may serve a matching object without asking the origin."""
    priority: int
    """Higher wins where patterns overlap (Alibaba ``weight``; CloudFront order)."""

    @property
    def is_prefix(self) -> bool:
        return self.path_pattern.endswith("/*")

    def matches(self, path: str) -> bool:
        return fnmatchcase(path, self.path_pattern)


def pwa_cache_rules(
    hashed_asset_paths: Sequence[str],
    hashed_ttl_seconds: int = ONE_YEAR,
    entrypoint_ttl_seconds: int = 0,
) -> list[CacheRule]:
    """Entrypoints first (highest priority), then the hashed-asset prefixes."""
    entry = [CacheRule(p, NO_CACHE, entrypoint_ttl_seconds, 99) for p in ENTRYPOINTS]
    hashed = [
        CacheRule(p, f"public, max-age={hashed_ttl_seconds}, immutable", hashed_ttl_seconds, 80)
        for p in hashed_asset_paths
    ]
    return entry + hashed


def default_rule(ttl_seconds: int) -> CacheRule:
    """Everything else (favicon, web manifest, robots.txt): short-lived, revalidated."""
    return CacheRule("*", f"public, max-age={ttl_seconds}", ttl_seconds, 1)


def rule_for(path: str, rules: Sequence[CacheRule], default: CacheRule) -> CacheRule:
    matching = [r for r in rules if r.matches(path)]
    return max(matching, key=lambda r: r.priority) if matching else default


def cache_control_for(path: str, rules: Sequence[CacheRule], default: CacheRule) -> str:
    return rule_for(path, rules, default).cache_control


def pattern_problem(pattern: str) -> str | None:
    """Why a hashed-asset path pattern is unusable, or None."""
    if not pattern.startswith("/") or not pattern.endswith("/*") or pattern.count("*") != 1:
        return f"{pattern!r} must be a folder prefix such as /assets/*"
    covered = [e for e in ENTRYPOINTS if fnmatchcase(e, pattern)]
    if covered:
        return f"{pattern!r} covers {covered}, which must never be cached as immutable"
    return None
