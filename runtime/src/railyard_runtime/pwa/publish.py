"""Publish, roll back and kill-switch the PWA on every target at once.

A target is one bucket with the CDN in front of it (S3 + CloudFront, OSS + Alibaba CDN). On
each target: assets that are not there yet, then the release's entrypoint copies and record,
then the live entrypoints in order (sw.js last), then the CDN invalidation of what changed.
Targets run in parallel; files within a target too, with entrypoints strictly after assets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime.cache_rules import ENTRYPOINTS, NO_CACHE
from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.pwa import release as rel
from railyard_runtime.pwa.build import ENTRYPOINT_ORDER, BuildFile
from railyard_runtime.pwa.cdn import Cdn
from railyard_runtime.pwa.store import Bucket

Progress = Callable[[str, int], None]
"""Called with (target name, bytes just sent) while files upload."""


@dataclass
class Target:
    name: str
    bucket: Bucket
    cdn: Cdn | None = None


class TargetReport(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    target: str
    release: str
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    skipped_files: int = 0
    changed_entrypoints: list[str] = []
    invalidation: str | None = None


def parallel(targets: Sequence[Target], work: Callable[[Target], TargetReport]):
    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="target") as pool:
        return list(pool.map(work, targets))


def _before(live: rel.Pointer | None, release_id: str, fallback: str | None = None) -> str | None:
    """The release ``release_id`` replaces: what is live, else what was live before (never the
    kill switch, never itself), else ``fallback``."""
    candidates = [live.release, live.previous] if live else []
    skip = (rel.KILL_SWITCH, release_id)
    return next((c for c in [*candidates, fallback] if c and c not in skip), None)


def _invalidate(t: Target, paths: list[str]) -> str | None:
    return t.cdn.invalidate(paths) if t.cdn and paths else None


def publish(
    files: Sequence[BuildFile],
    release_id: str,
    targets: Sequence[Target],
    progress: Progress | None = None,
    concurrency: int = 16,
) -> list[TargetReport]:
    rel.check_id(release_id)
    if not targets:
        raise BadInput("no target: set --s3-bucket and/or --oss-bucket")
    return parallel(targets, lambda t: _publish_to(t, files, release_id, progress, concurrency))


def _publish_to(t, files, release_id, progress, concurrency) -> TargetReport:
    b = t.bucket
    live = b.get_model(rel.LIVE, rel.Pointer)
    record = rel.Release(
        id=release_id,
        previous=_before(live, release_id),
        files={
            f.key: rel.FileRecord(
                sha256=f.sha256,
                size=f.size,
                content_type=f.content_type,
                cache_control=f.cache_control,
            )
            for f in files
        },
    )
    existing = b.get_model(rel.record_key(release_id), rel.Release)
    if existing and not existing.same_files(record):
        raise BadInput(
            f"--release {release_id!r} is already published on {t.name} with other files: "
            "give this build a new release id"
        )
    # What each key holds, as far as the records tell (saves a HEAD per unchanged file).
    known: dict[str, str] = {}
    if live and (live_record := b.get_model(rel.record_key(live.release), rel.Release)):
        known = {k: v.sha256 for k, v in live_record.files.items()}
    sizes = b.sizes()
    report = TargetReport(target=t.name, release=release_id)

    def unchanged(key: str, sha: str, size: int) -> bool:
        if sizes.get(key) != size:
            return False
        return known.get(key) == sha or b.sha256(key) == sha

    def send(f: BuildFile) -> bool:
        if unchanged(f.key, f.sha256, f.size):
            return False
        b.upload(f, (lambda n: progress(t.name, n)) if progress else None)
        return True

    assets = [f for f in files if not f.is_entrypoint]
    entrypoints = [f for f in files if f.is_entrypoint]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=t.name) as pool:
        sent = list(pool.map(send, assets))  # every asset is stored before any entrypoint
    for f, was_sent in zip(assets, sent, strict=True):
        report.uploaded_files += was_sent
        report.uploaded_bytes += f.size if was_sent else 0
        report.skipped_files += not was_sent

    for f in entrypoints:  # the copies a rollback restores from
        copy_key = rel.entrypoint_copy_key(release_id, f.key)
        if not unchanged(copy_key, f.sha256, f.size):
            b.put(copy_key, f.source.read_bytes(), f.content_type, f.cache_control, f.sha256)
    if existing is None:
        b.put_model(rel.record_key(release_id), record)

    for f in entrypoints:  # the switch: sw.js goes last
        if send(f):
            report.uploaded_files += 1
            report.uploaded_bytes += f.size
            report.changed_entrypoints.append(f.path)
        else:
            report.skipped_files += 1
    if not live or live.release != release_id:
        b.put_model(rel.LIVE, rel.Pointer(release=release_id, previous=_before(live, release_id)))
    report.invalidation = _invalidate(t, report.changed_entrypoints)
    return report


def rollback(targets: Sequence[Target], to: str | None = None) -> list[TargetReport]:
    """Put a release's entrypoints back: ``to``, or the last verified one, or the one before.

    Every target must agree on the release and still hold all its files before anything
    changes, so a rollback never leaves the two clouds on different releases.
    """
    plans = {t.name: _rollback_plan(t, to) for t in targets}
    chosen = {record.id for record in plans.values()}
    if len(chosen) > 1:
        raise StepError(
            f"the targets would roll back to different releases {sorted(chosen)}: "
            "name one with --to"
        )
    return parallel(targets, lambda t: _roll_back(t, plans[t.name]))


def _rollback_plan(t: Target, to: str | None) -> rel.Release:
    b = t.bucket
    live = b.get_model(rel.LIVE, rel.Pointer)
    if to is None:
        if live is None:
            raise StepError(f"nothing is published on {t.name}: there is nothing to roll back")
        good = b.get_model(rel.LAST_KNOWN_GOOD, rel.Pointer)
        to = good.release if good and good.release != live.release else live.previous
        if to is None:
            raise StepError(
                f"{t.name}: {live.release!r} has no earlier release: name one with --to"
            )
    rel.check_id(to, "--to")
    record = b.get_model(rel.record_key(to), rel.Release)
    if record is None:
        raise BadInput(f"--to {to!r}: no such release on {t.name} (no {rel.record_key(to)})")
    sizes = b.sizes()
    needed = [
        rel.entrypoint_copy_key(to, key) if "/" + key in ENTRYPOINTS else key
        for key in record.files
    ]
    gone = [key for key in needed if key not in sizes]
    if gone:
        raise StepError(
            f"release {to!r} can no longer be restored on {t.name}: {len(gone)} of its files are "
            f"gone (first: {gone[0]}); publish it again from its build"
        )
    return record


def _roll_back(t: Target, record: rel.Release) -> TargetReport:
    b = t.bucket
    live = b.get_model(rel.LIVE, rel.Pointer)
    report = TargetReport(target=t.name, release=record.id)
    for key in _ordered_entrypoints(record):
        if b.sha256(key) != record.files[key].sha256:
            b.copy(rel.entrypoint_copy_key(record.id, key), key)
            report.uploaded_files += 1
            report.uploaded_bytes += record.files[key].size
            report.changed_entrypoints.append("/" + key)
    previous = _before(live, record.id, record.previous)
    b.put_model(rel.LIVE, rel.Pointer(release=record.id, previous=previous))
    report.invalidation = _invalidate(t, report.changed_entrypoints)
    return report


def _ordered_entrypoints(record: rel.Release) -> list[str]:
    return [p[1:] for p in ENTRYPOINT_ORDER if p[1:] in record.files]


def kill_switch_script() -> bytes:
    return resources.files("railyard_runtime.pwa").joinpath("kill-switch-sw.js").read_bytes()


def kill_switch(targets: Sequence[Target]) -> list[TargetReport]:
    """Serve a service worker that unregisters itself; ``pwa rollback`` undoes it."""
    script = kill_switch_script()
    sha = hashlib.sha256(script).hexdigest()

    def switch(t: Target) -> TargetReport:
        b = t.bucket
        live = b.get_model(rel.LIVE, rel.Pointer)
        b.put("sw.js", script, "text/javascript; charset=utf-8", NO_CACHE, sha)
        if not live or live.release != rel.KILL_SWITCH:
            previous = live and live.release
            b.put_model(rel.LIVE, rel.Pointer(release=rel.KILL_SWITCH, previous=previous))
        report = TargetReport(target=t.name, release=rel.KILL_SWITCH, uploaded_files=1)
        report.uploaded_bytes = len(script)
        report.changed_entrypoints = ["/sw.js"]
        report.invalidation = _invalidate(t, ["/sw.js"])
        return report

    return parallel(targets, switch)
