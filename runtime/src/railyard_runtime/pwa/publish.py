"""Publish, roll back and kill-switch the PWA on every target at once.

A target is one bucket with the CDN in front of it (S3 + CloudFront, OSS + Alibaba CDN). Both
clouds serve the same release or, when something fails, the one they served before:

1. check every target (bucket there and readable, release id free or holding the same files);
2. upload the assets, the release's entrypoint copies and its record to every target;
3. switch the live entrypoints (sw.js last) and ``releases/live.json`` on every target, having
   saved what they were; if any target fails, put every target back as saved;
4. invalidate the entrypoints that changed on each CDN.

Nothing is uploaded before every check passed; nothing is switched before every upload landed.
Targets run in parallel; files within a target too, with entrypoints strictly after assets.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from railyard_runtime.cache_rules import ENTRYPOINTS, NO_CACHE
from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.pwa import release as rel
from railyard_runtime.pwa.build import ENTRYPOINT_ORDER, BuildFile
from railyard_runtime.pwa.cdn import Cdn
from railyard_runtime.pwa.store import SHA_META, Bucket, Saved

Progress = Callable[[str, int], None]
"""Called with (target name, bytes just sent) while files upload."""
R = TypeVar("R")
# What a switch may change on a target, saved before it and put back if any target fails.
SWITCHED_KEYS = (*(p[1:] for p in ENTRYPOINT_ORDER), rel.LIVE, rel.LAST_KNOWN_GOOD)


@dataclass
class Target:
    name: str
    bucket: Bucket
    cdn: Cdn | None = None


class TargetReport(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    target: str
    release: str
    """What the target serves now."""
    previous: str | None = None
    """What it served before this command."""
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    skipped_files: int = 0
    changed_entrypoints: list[str] = []
    invalidation: str | None = None
    note: str | None = None


def parallel(targets: Sequence[Target], work: Callable[[Target], R]) -> list[R]:
    """``work`` on every target at once; every target finishes, then the errors are raised
    together (the first one's exit code), so a failure on one never goes unreported."""
    results = _each(targets, work)
    errors = [r for r in results if isinstance(r, StepError)]
    if errors:
        raise type(errors[0])("; ".join(e.message for e in errors))
    return results


def _each(targets: Sequence[Target], work: Callable[[Target], R]) -> list[R | StepError]:
    def guarded(t: Target) -> R | StepError:
        try:
            return work(t)
        except StepError as e:
            return e
        except Exception as e:  # any failure, even unforeseen, must reach the restore
            return StepError(f"{t.name}: {type(e).__name__}: {e}")

    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="target") as pool:
        return list(pool.map(guarded, targets))


def _serving(live: rel.Pointer | None) -> str:
    return repr(live.release) if live else "nothing"


def _before(live: rel.Pointer | None, release_id: str) -> str | None:
    """The release ``release_id`` replaces: what is live, else what was live before (never the
    kill switch, never itself)."""
    if live is None:
        return None
    candidates = [live.release, live.previous]
    if live.replaced:  # under the kill switch: what it stands in for
        candidates += [live.replaced.release, live.replaced.previous]
    skip = (rel.KILL_SWITCH, release_id)
    return next((c for c in candidates if c and c not in skip), None)


# -- the switch, all targets or none ---------------------------------------------------------


def _switch_all(
    targets: Sequence[Target],
    switch: Callable[[Target, Mapping[str, Saved]], TargetReport],
    what: str,
) -> list[TargetReport]:
    """Run ``switch`` on every target; if one fails, put every target back as it was.

    The entrypoints, ``live.json`` and ``last-known-good.json`` are saved first (small objects),
    so a target that switched, or switched half, is restored byte for byte. ``switch`` gets
    them by key: what an entrypoint holds, without asking the bucket again.
    """
    saved = parallel(targets, lambda t: [t.bucket.save(k) for k in SWITCHED_KEYS])
    saved_by = {t.name: s for t, s in zip(targets, saved, strict=True)}
    outcomes = _each(targets, lambda t: switch(t, {s.key: s for s in saved_by[t.name]}))
    failed = [(t, o) for t, o in zip(targets, outcomes, strict=True) if isinstance(o, StepError)]
    if not failed:
        _invalidate_all(targets, outcomes)
        return outcomes

    restored = _each(targets, lambda t: _restore(t, saved_by[t.name]))
    told = [f"{t.name} could not {what}: {e.message}" for t, e in failed]
    all_back = not any(isinstance(o, StepError) for o in restored)
    for t, outcome in zip(targets, restored, strict=True):
        before = _serving(_saved_live(saved_by[t.name]))
        if isinstance(outcome, StepError):
            told.append(
                f"{t.name} could NOT be put back ({outcome.message}): it may serve a mix of "
                f"both; it served {before} before: run `pwa rollback --to` that release once "
                "the bucket answers"
            )
        else:
            told.append(f"{t.name} serves {before} again, as before")
    end = "Every cloud is back as it was" if all_back else "NOT every cloud is back: see above"
    raise type(failed[0][1])("; ".join(told) + f". {end}.")


def _held_sha(t: Target, key: str, saved: Mapping[str, Saved]) -> str | None:
    """The hash of what ``key`` holds: as saved before the switch (only the switch writes it
    since), else as the bucket answers now."""
    if key not in saved:
        return t.bucket.sha256(key)
    held = saved[key]
    return (held.metadata or {}).get(SHA_META) if held.body is not None else None


def _saved_live(saved: list[Saved]) -> rel.Pointer | None:
    live = next(s for s in saved if s.key == rel.LIVE)
    return rel.Pointer.model_validate_json(live.body) if live.body else None


def _restore(t: Target, saved: list[Saved]) -> list[str]:
    """Put ``saved`` back on ``t``, entrypoints in upload order; invalidates what it rewrote.

    Every key is tried even when one fails, so as much as possible is back."""
    rewritten, errors = [], []
    for s in saved:
        try:
            if t.bucket.restore(s):
                rewritten.append(s.key)
        except StepError as e:
            errors.append(e.message)
    paths = ["/" + k for k in rewritten if "/" + k in ENTRYPOINTS]
    # edges may have fetched the new entrypoints meanwhile; if the CDN API fails, no-cache
    # entrypoints are revalidated by the edges on their own
    with contextlib.suppress(StepError):
        _invalidate(t, paths)
    if errors:
        raise StepError("; ".join(errors))
    return paths


def _invalidate(t: Target, paths: list[str]) -> str | None:
    if not (t.cdn and paths):
        return None
    try:
        return t.cdn.invalidate(paths)
    except Exception as e:  # an SDK's own error type: say which CDN and carry on
        raise StepError(
            f"{t.name}: the {t.cdn.name} refresh of {' '.join(paths)} failed ({e}); the "
            "bucket serves the new files, edges revalidate no-cache entrypoints on their own"
        ) from e


def _invalidate_all(targets: Sequence[Target], reports: list[TargetReport]) -> None:
    def refresh(t: Target) -> None:
        report = next(r for r in reports if r.target == t.name)
        report.invalidation = _invalidate(t, report.changed_entrypoints)

    parallel(targets, refresh)


# -- publish ---------------------------------------------------------------------------------


@dataclass
class _PublishPlan:
    live: rel.Pointer | None
    record: rel.Release
    existing: rel.Release | None
    sizes: dict[str, int]
    known: dict[str, str] = field(default_factory=dict)
    """What each key holds, as far as the live record tells (saves a HEAD per unchanged file)."""


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
    try:
        planned = parallel(targets, lambda t: _plan_publish(t, files, release_id))
    except StepError as e:
        raise type(e)(f"{e.message}. Nothing was uploaded to any cloud.") from None
    plans = {t.name: p for t, p in zip(targets, planned, strict=True)}
    serving = ", ".join(f"{t.name} serves {_serving(plans[t.name].live)}" for t in targets)
    try:
        reports = parallel(
            targets, lambda t: _stage(t, files, plans[t.name], progress, concurrency)
        )
    except StepError as e:
        raise type(e)(f"{e.message}. Nothing was switched: {serving}, as before.") from None
    by_name = {r.target: r for r in reports}
    entrypoints = [f for f in files if f.is_entrypoint]
    return _switch_all(
        targets,
        lambda t, saved: _switch_to(t, entrypoints, plans[t.name], by_name[t.name], saved),
        f"switch to {release_id!r}",
    )


def _plan_publish(t: Target, files: Sequence[BuildFile], release_id: str) -> _PublishPlan:
    b = t.bucket
    b.check()
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
    plan = _PublishPlan(live, record, existing, b.sizes())
    if live and (live_record := b.get_model(rel.record_key(live.release), rel.Release)):
        plan.known = {k: v.sha256 for k, v in live_record.files.items()}
    return plan


def _unchanged(
    t: Target,
    plan: _PublishPlan,
    key: str,
    sha: str,
    size: int,
    saved: Mapping[str, Saved] | None = None,
) -> bool:
    if plan.sizes.get(key) != size:
        return False
    return plan.known.get(key) == sha or _held_sha(t, key, saved or {}) == sha


def _send(
    t: Target,
    plan: _PublishPlan,
    f: BuildFile,
    progress: Progress | None,
    saved: Mapping[str, Saved] | None = None,
) -> bool:
    if _unchanged(t, plan, f.key, f.sha256, f.size, saved):
        return False
    t.bucket.upload(f, (lambda n: progress(t.name, n)) if progress else None)
    return True


def _stage(t: Target, files, plan: _PublishPlan, progress, concurrency) -> TargetReport:
    """Everything but the switch: assets, entrypoint copies, the release record."""
    b = t.bucket
    report = TargetReport(target=t.name, release=plan.record.id)
    assets = [f for f in files if not f.is_entrypoint]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=t.name) as pool:
        # every asset is stored before any entrypoint
        sent = list(pool.map(lambda f: _send(t, plan, f, progress), assets))
    for f, was_sent in zip(assets, sent, strict=True):
        report.uploaded_files += was_sent
        report.uploaded_bytes += f.size if was_sent else 0
        report.skipped_files += not was_sent

    for f in files:  # the copies a rollback restores from
        if not f.is_entrypoint:
            continue
        copy_key = rel.entrypoint_copy_key(plan.record.id, f.key)
        if not _unchanged(t, plan, copy_key, f.sha256, f.size):
            with f.open() as body:
                b.put(copy_key, body.read(), f.content_type, f.cache_control, f.sha256)
    if plan.existing is None:
        b.put_model(rel.record_key(plan.record.id), plan.record)
    return report


def _switch_to(
    t: Target,
    entrypoints: list[BuildFile],
    plan: _PublishPlan,
    report: TargetReport,
    saved: Mapping[str, Saved],
) -> TargetReport:
    report.previous = plan.live.release if plan.live else None
    for f in entrypoints:  # sw.js goes last
        if _send(t, plan, f, None, saved):
            report.uploaded_files += 1
            report.uploaded_bytes += f.size
            report.changed_entrypoints.append(f.path)
        else:
            report.skipped_files += 1
    live = plan.live
    if not live or live.release != plan.record.id:
        pointer = rel.Pointer(release=plan.record.id, previous=_before(live, plan.record.id))
        t.bucket.put_model(rel.LIVE, pointer)
    return report


# -- rollback --------------------------------------------------------------------------------


@dataclass
class _RollbackPlan:
    record: rel.Release
    live: rel.Pointer | None
    pointer: rel.Pointer
    """``live.json`` after the rollback."""
    forget_good: bool
    """The rollback leaves the last-known-good release: it is not good until verified again."""
    note: str | None = None


def rollback(targets: Sequence[Target], to: str | None = None) -> list[TargetReport]:
    """Put a release's entrypoints back: ``to``, else what the kill switch replaced, else the
    last verified release, else the one before.

    Every target must agree on the release and still hold all its files before anything
    changes, and a target that fails to switch puts every target back, so a rollback never
    leaves the two clouds on different releases. Without ``to``, a rollback right after a
    rollback keeps the release it went to: a retried rollback does not go further back.
    """
    planned = parallel(targets, lambda t: _rollback_plan(t, to))
    plans = {t.name: p for t, p in zip(targets, planned, strict=True)}
    chosen = {p.record.id for p in planned}
    if len(chosen) > 1:
        raise StepError(
            f"the targets would roll back to different releases {sorted(chosen)}: "
            "name one with --to"
        )
    return _switch_all(
        targets,
        lambda t, saved: _roll_back(t, plans[t.name], saved),
        f"roll back to {chosen.pop()!r}",
    )


def _rollback_plan(t: Target, to: str | None) -> _RollbackPlan:
    b = t.bucket
    b.check()
    live = b.get_model(rel.LIVE, rel.Pointer)
    last_known_good = functools.cache(lambda: b.get_model(rel.LAST_KNOWN_GOOD, rel.Pointer))
    killed = live is not None and live.release == rel.KILL_SWITCH
    # what the entrypoints stand for now: under the kill switch, the pointer it replaced
    current = live
    if killed:
        current = live.replaced or (
            rel.Pointer(release=live.previous, by="publish") if live.previous else None
        )
    note = None
    if to is None:
        if live is None:
            raise StepError(f"nothing is published on {t.name}: there is nothing to roll back")
        if killed:
            if current is None:
                raise StepError(
                    f"{t.name}: the kill switch replaced no release: name one with --to"
                )
            to = current.release
        elif live.by == "rollback":
            to = live.release
            note = (
                f"{live.release!r} is live from a rollback: a rollback again keeps it; "
                "name another release with --to"
            )
        else:
            good = last_known_good()
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
    left = current.release if current else None
    if left == to:  # back to what the kill switch replaced, or the live release again
        pointer = rel.Pointer(release=to, previous=current.previous, by="rollback")
    else:
        pointer = rel.Pointer(release=to, previous=left, by="rollback")
    good = last_known_good()
    forget = left not in (None, to) and good is not None and good.release == left
    return _RollbackPlan(record, live, pointer, forget, note)


def _roll_back(t: Target, plan: _RollbackPlan, saved: Mapping[str, Saved]) -> TargetReport:
    b = t.bucket
    record = plan.record
    report = TargetReport(target=t.name, release=record.id, note=plan.note)
    report.previous = plan.live.release if plan.live else None
    for key in _ordered_entrypoints(record):
        if _held_sha(t, key, saved) != record.files[key].sha256:
            b.copy(rel.entrypoint_copy_key(record.id, key), key)
            report.uploaded_files += 1
            report.uploaded_bytes += record.files[key].size
            report.changed_entrypoints.append("/" + key)
    live = plan.live
    same = (plan.pointer.release, plan.pointer.previous, plan.pointer.by)
    if live is None or (live.release, live.previous, live.by) != same or live.replaced:
        b.put_model(rel.LIVE, plan.pointer)
    if plan.forget_good:
        b.delete([rel.LAST_KNOWN_GOOD])
    return report


def _ordered_entrypoints(record: rel.Release) -> list[str]:
    return [p[1:] for p in ENTRYPOINT_ORDER if p[1:] in record.files]


# -- kill switch -----------------------------------------------------------------------------


def _live_for_kill_switch(b: Bucket) -> tuple[rel.Pointer | None, str | None]:
    """The live pointer, or None when there is none or it cannot be read as one: an emergency
    stop must not wait for a repair. Unreadable bytes are first copied under ``releases/``
    (nothing lost); the second value names that copy."""
    raw = b.get(rel.LIVE)
    if raw is None:
        return None, None
    try:
        return b.parse_model(rel.LIVE, raw, rel.Pointer), None
    except StepError:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        kept = f"{rel.LIVE}.corrupt-{stamp}"
        b.put(kept, raw, "application/octet-stream", "no-store", hashlib.sha256(raw).hexdigest())
        return None, kept


def kill_switch_script() -> bytes:
    return resources.files("railyard_runtime.pwa").joinpath("kill-switch-sw.js").read_bytes()


def kill_switch(targets: Sequence[Target]) -> list[TargetReport]:
    """Serve a service worker that unregisters itself; ``pwa rollback`` undoes it.

    An emergency stop: each target that can take it keeps it even if another fails (the error
    says which). ``live.json`` keeps the pointer it replaced, which a rollback restores exactly.
    """
    script = kill_switch_script()
    sha = hashlib.sha256(script).hexdigest()

    def switch(t: Target) -> TargetReport:
        b = t.bucket
        b.check()
        live, kept = _live_for_kill_switch(b)
        if not live or live.release != rel.KILL_SWITCH:
            # the pointer first: whatever happens next, a rollback knows what to restore
            pointer = rel.Pointer(
                release=rel.KILL_SWITCH,
                previous=live and live.release,
                by="kill-switch",
                replaced=live,
            )
            b.put_model(rel.LIVE, pointer)
        b.put("sw.js", script, "text/javascript; charset=utf-8", NO_CACHE, sha)
        report = TargetReport(target=t.name, release=rel.KILL_SWITCH, uploaded_files=1)
        report.previous = live.release if live else None
        report.uploaded_bytes = len(script)
        report.changed_entrypoints = ["/sw.js"]
        if kept:
            report.note = (
                f"{t.name}: releases/live.json was not a valid record; its bytes are kept as "
                f"{kept}: name the release to go back to with `pwa rollback --to`"
            )
        return report

    outcomes = _each(targets, switch)
    done = [o for o in outcomes if not isinstance(o, StepError)]
    failed = [o for o in outcomes if isinstance(o, StepError)]
    problems = [e.message for e in failed]
    try:
        _invalidate_all([t for t in targets if t.name in {r.target for r in done}], done)
    except StepError as e:
        problems.append(e.message)
    if problems:
        raise type(failed[0] if failed else StepError(""))(
            "; ".join(problems + [r.note for r in done if r.note])
            + f". The kill switch is live on: {', '.join(r.target for r in done) or 'no cloud'}"
            + ("; run `pwa kill-switch` again once the others answer" if failed else "")
        )
    return done
