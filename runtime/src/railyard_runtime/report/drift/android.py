"""The Android check: the APK bucket's ``latest.json`` must name the release's commit."""

from __future__ import annotations

from railyard_runtime.apk_release import ApkRelease
from railyard_runtime.pwa.store import Bucket
from railyard_runtime.report.drift.findings import Finding, guarded


def latest_key(env: str) -> str:
    return f"releases/{env}/latest.json"


def check_android(bucket: Bucket, env: str, commit: str) -> Finding:
    return guarded("android", f"commit {commit}", lambda: _check_android(bucket, env, commit))


def _check_android(bucket: Bucket, env: str, commit: str) -> Finding:
    key = latest_key(env)
    expected = f"commit {commit}"
    latest = bucket.get_model(key, ApkRelease)
    if latest is None:
        return Finding(
            target="android",
            ok=False,
            expected=expected,
            found="nothing published",
            detail=f"{bucket.name}: no {key}",
        )
    found = f"commit {latest.commit} ({latest.apk}, feature {latest.feature})"
    if latest.commit.lower() != commit.lower():
        return Finding(
            target="android",
            ok=False,
            expected=expected,
            found=found,
            detail=f"{key} names commit {latest.commit}, not {commit}",
        )
    return Finding(
        target="android",
        ok=True,
        expected=expected,
        found=found,
        detail=f"{key} names the release's commit",
    )
