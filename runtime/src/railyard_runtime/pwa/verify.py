"""``pwa verify``: do the CDNs serve what the live release record says?

Fetches ``/sw.js`` and ``/asset-manifest.json`` (``/index.html`` when the build has no
manifest) through every CDN URL and compares their SHA-256 with the record, retrying until a
deadline (edges take a moment after an invalidation). When every CDN matches, the release
becomes the bucket's last-known-good: the default target of ``pwa rollback``, but only if
``live.json`` is still byte for byte what verify read at the start: a rollback (or publish)
during the wait must not turn the release it left back into last-known-good.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

import httpx
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.pwa import release as rel
from railyard_runtime.pwa.publish import Target

MANIFEST = "asset-manifest.json"


class Check(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    target: str
    url: str
    expected_sha256: str
    served_sha256: str | None
    ok: bool


def verify(
    targets: Sequence[Target],
    release_id: str | None = None,
    deadline_seconds: float = 120,
    interval_seconds: float = 2,
    on_attempt: Callable[[list[Check]], None] | None = None,
) -> list[Check]:
    with_cdn = [t for t in targets if t.cdn is not None]
    if not with_cdn:
        raise BadInput("no CDN URL to verify: set --cloudfront-url and/or --alibaba-cdn-url")
    started = {t.name: _live_record(t, release_id) for t in with_cdn}
    live = {name: record for name, (_, record) in started.items()}
    expected = [(t, url, sha) for t in with_cdn for url, sha in entrypoints(t, live[t.name])]
    give_up = time.monotonic() + deadline_seconds
    with httpx.Client(timeout=10, follow_redirects=True) as http:
        while True:
            checks = [check_served(http, t, url, sha) for t, url, sha in expected]
            if on_attempt:
                on_attempt(checks)
            if all(c.ok for c in checks) or time.monotonic() + interval_seconds > give_up:
                break
            time.sleep(interval_seconds)
    failed = [c for c in checks if not c.ok]
    if failed:
        first = failed[0]
        raise StepError(
            f"{len(failed)} of {len(checks)} CDN checks did not match after "
            f"{deadline_seconds:g} s; first: {first.url} served "
            f"{first.served_sha256 or 'nothing'}, the release has {first.expected_sha256}"
        )
    # the wait may have been long: mark nothing unless every target still serves what was checked
    moved = [t.name for t in with_cdn if t.bucket.get(rel.LIVE) != started[t.name][0]]
    if moved:
        raise StepError(
            f"the live release changed on {', '.join(moved)} during verification (a rollback, "
            "publish or kill switch ran meanwhile): nothing was marked last-known-good; run "
            "`pwa verify` again"
        )
    for t in with_cdn:
        t.bucket.put_model(rel.LAST_KNOWN_GOOD, rel.Pointer(release=live[t.name].id))
    return checks


def _live_record(t: Target, release_id: str | None) -> tuple[bytes, rel.Release]:
    """``live.json`` as read (compared again before marking anything) and the live record."""
    raw = t.bucket.get(rel.LIVE)
    live = None if raw is None else t.bucket.parse_model(rel.LIVE, raw, rel.Pointer)
    if live is None:
        raise StepError(f"nothing is published on {t.name}")
    if live.release == rel.KILL_SWITCH:
        raise StepError(f"the kill switch is live on {t.name}: there is no release to verify")
    if release_id is not None and live.release != release_id:
        raise StepError(f"{t.name} serves release {live.release!r}, not {release_id!r}")
    record = t.bucket.get_model(rel.record_key(live.release), rel.Release)
    if record is None:
        raise StepError(f"{t.name}: the live release {live.release!r} has no record")
    return raw, record


def entrypoints(t: Target, record: rel.Release) -> list[tuple[str, str]]:
    """(URL on the target's CDN, SHA-256 the release has) of what decides the release served."""
    keys = ["sw.js", MANIFEST if MANIFEST in record.files else "index.html"]
    return [(f"{t.cdn.url}/{k}", record.files[k].sha256) for k in keys]


def check_served(http: httpx.Client, t: Target, url: str, expected: str) -> Check:
    """What ``url`` serves now, against ``expected``; an error serves nothing."""
    try:
        response = http.get(url, headers={"Cache-Control": "no-cache"})
        served = hashlib.sha256(response.content).hexdigest() if response.is_success else None
    except httpx.HTTPError:
        served = None
    return Check(
        target=t.name,
        url=url,
        expected_sha256=expected,
        served_sha256=served,
        ok=served == expected,
    )
