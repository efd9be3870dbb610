"""The PWA check: one read-only pass of ``pwa verify``'s comparison."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from railyard_runtime.errors import StepError
from railyard_runtime.pwa import release as rel
from railyard_runtime.pwa import verify
from railyard_runtime.pwa.publish import Target as PwaTarget
from railyard_runtime.report.drift.findings import Finding


def check_pwa(targets: Sequence[PwaTarget], commit: str, deadline_seconds: float = 10) -> Finding:
    """``pwa verify``'s comparison, once, and without marking anything last-known-good: a
    scheduled check reads, it never writes to the buckets."""
    with_cdn = [t for t in targets if t.cdn is not None]
    if not with_cdn:
        raise StepError("no CDN URL to check: set the CloudFront and/or Alibaba CDN URL")
    expected = f"release {commit} on {', '.join(t.name for t in with_cdn)}"
    problems: list[str] = []
    live_of: dict[str, str] = {}
    wanted: list[tuple[PwaTarget, str, str]] = []
    for t in with_cdn:
        raw = t.bucket.get(rel.LIVE)
        live = None if raw is None else t.bucket.parse_model(rel.LIVE, raw, rel.Pointer)
        if live is None:
            live_of[t.name] = "nothing"
            problems.append(f"nothing is published on {t.name}")
            continue
        live_of[t.name] = live.release
        if live.release == rel.KILL_SWITCH:
            problems.append(f"the kill switch is live on {t.name}")
            continue
        if live.release.lower() != commit.lower():
            problems.append(f"{t.name} serves release {live.release}, not {commit}")
            continue
        record = t.bucket.get_model(rel.record_key(live.release), rel.Release)
        if record is None:
            raise StepError(f"{t.name}: the live release {live.release!r} has no record")
        wanted += [(t, url, sha) for url, sha in verify.entrypoints(t, record)]
    with httpx.Client(timeout=deadline_seconds, follow_redirects=True) as http:
        checks = [verify.check_served(http, t, url, sha) for t, url, sha in wanted]
    problems += [
        f"{c.url} served {c.served_sha256 or 'nothing'}, the release has {c.expected_sha256}"
        for c in checks
        if not c.ok
    ]
    found = "; ".join(
        f"{t.name}: release {live_of[t.name]}"
        + (
            f", {sum(c.ok for c in mine)}/{len(mine)} CDN files match"
            if (mine := [c for c in checks if c.target == t.name])
            else ""
        )
        for t in with_cdn
    )
    if problems:
        return Finding(
            target="pwa", ok=False, expected=expected, found=found, detail="; ".join(problems)
        )
    return Finding(
        target="pwa",
        ok=True,
        expected=expected,
        found=found,
        detail=f"every CDN serves release {commit} ({len(checks)} files)",
    )
