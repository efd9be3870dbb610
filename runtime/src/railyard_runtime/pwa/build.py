"""A PWA build on disk: every file with its content hash and the Cache-Control it gets."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from railyard_runtime import cache_rules
from railyard_runtime.errors import BadInput

REQUIRED = ("/sw.js", "/index.html")
# Upload order of the entrypoints, last: sw.js. A browser that sees a new service worker
# installs it at once and fetches what the manifest and index name, which are already there.
ENTRYPOINT_ORDER = ("/asset-manifest.json", "/index.html", "/sw.js")

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".mjs")


@dataclass(frozen=True)
class BuildFile:
    key: str
    """Object key: the URL path without its leading slash (``assets/app.3f9a.js``)."""
    source: Path
    sha256: str
    size: int
    content_type: str
    cache_control: str

    @property
    def path(self) -> str:
        return "/" + self.key

    @property
    def is_entrypoint(self) -> bool:
        return self.path in cache_rules.ENTRYPOINTS


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rules_for(hashed_asset_paths: Sequence[str], hashed_ttl: int, default_ttl: int):
    for pattern in hashed_asset_paths:
        if why := cache_rules.pattern_problem(pattern):
            raise BadInput(f"--hashed-path: {why} (the stack's railyard:pwaHashedAssetPaths)")
    return cache_rules.pwa_cache_rules(hashed_asset_paths, hashed_ttl), cache_rules.default_rule(
        default_ttl
    )


def scan(
    dist: Path,
    hashed_asset_paths: Sequence[str] = cache_rules.DEFAULT_HASHED_ASSET_PATHS,
    hashed_ttl: int = cache_rules.ONE_YEAR,
    default_ttl: int = cache_rules.DEFAULT_TTL_SECONDS,
) -> list[BuildFile]:
    """Every file of ``dist``: assets first (sorted), the entrypoints last in upload order."""
    if not dist.is_dir():
        raise BadInput(f"DIST {str(dist)!r} is not a folder: pass the PWA's build output folder")
    rules, default = rules_for(hashed_asset_paths, hashed_ttl, default_ttl)
    files = []
    for source in sorted(p for p in dist.rglob("*") if p.is_file()):
        key = source.relative_to(dist).as_posix()
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
            content_type += "; charset=utf-8"
        files.append(
            BuildFile(
                key=key,
                source=source,
                sha256=sha256_of(source),
                size=source.stat().st_size,
                content_type=content_type,
                cache_control=cache_rules.cache_control_for("/" + key, rules, default),
            )
        )
    present = {f.path for f in files}
    missing = [p for p in REQUIRED if p not in present]
    if missing:
        raise BadInput(
            f"DIST {str(dist)!r} has no {', '.join(missing)}: a PWA build needs a stable "
            "/sw.js and /index.html at its root (DESIGN.md §9)"
        )
    assets = [f for f in files if not f.is_entrypoint]
    entrypoints = sorted(
        (f for f in files if f.is_entrypoint), key=lambda f: ENTRYPOINT_ORDER.index(f.path)
    )
    return assets + entrypoints
