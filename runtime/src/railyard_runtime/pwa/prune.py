"""``pwa prune``: drop what only old releases still need (keep the last N).

Hashed assets are never overwritten, so they pile up. A release is kept when it is among the
newest ``keep``, or live, or the one before live (or before the kill switch), or
last-known-good; every file a kept release names stays. Files named only by dropped releases
go, with those releases' records and entrypoint copies. Objects no record names are never
touched.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime.cache_rules import ENTRYPOINTS
from railyard_runtime.errors import BadInput
from railyard_runtime.pwa import release as rel
from railyard_runtime.pwa.publish import Target, parallel

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class PruneReport(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    target: str
    kept_releases: list[str]
    dropped_releases: list[str]
    deleted_files: int
    deleted_bytes: int


def prune(targets: Sequence[Target], keep: int) -> list[PruneReport]:
    if keep < 1:
        raise BadInput(f"--keep {keep}: keep at least 1 release (the live one is always kept)")
    return parallel(targets, lambda t: _prune(t, keep))


def _prune(t: Target, keep: int) -> PruneReport:
    b = t.bucket
    existing = b.sizes()  # one listing serves the records and the files
    pointers = {rel.LIVE, rel.LAST_KNOWN_GOOD}
    records = [
        r
        for key in existing
        if key.startswith(rel.PREFIX) and key.endswith(".json") and key.count("/") == 1
        if key not in pointers and (r := b.get_model(key, rel.Release)) is not None
    ]
    records.sort(key=lambda r: r.created_at, reverse=True)
    protected = set()
    for pointer in (
        b.get_model(rel.LIVE, rel.Pointer),
        b.get_model(rel.LAST_KNOWN_GOOD, rel.Pointer),
    ):
        if pointer:
            protected |= {pointer.release, pointer.previous}
            if pointer.replaced:  # under the kill switch: what a rollback restores
                protected |= {pointer.replaced.release, pointer.replaced.previous}
    kept = [r for i, r in enumerate(records) if i < keep or r.id in protected]
    kept_ids = {r.id for r in kept}
    dropped = [r for r in records if r.id not in kept_ids]

    needed = {key for r in kept for key in r.files}
    assets = {
        key
        for r in dropped
        for key in r.files
        if "/" + key not in ENTRYPOINTS and key not in needed and key in existing
    }
    doomed = sorted(assets)
    for r in dropped:  # the release's own objects: copies, then its record
        doomed += [k for k in existing if k.startswith(f"{rel.PREFIX}{r.id}/")]
        doomed.append(rel.record_key(r.id))
    for start in range(0, len(doomed), DELETE_BATCH):
        b.delete(doomed[start : start + DELETE_BATCH])
    return PruneReport(
        target=t.name,
        kept_releases=[r.id for r in kept],
        dropped_releases=[r.id for r in dropped],
        deleted_files=len(assets),
        deleted_bytes=sum(existing[key] for key in assets),
    )
