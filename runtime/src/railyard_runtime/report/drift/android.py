"""The Android check: the APK bucket's ``latest.json`` must name the release's commit."""

from __future__ import annotations

from railyard_runtime.apk_release import ApkRelease, latest_key
from railyard_runtime.pwa.store import Bucket
from railyard_runtime.report.drift.findings import Finding, expectation


def check_android(bucket: Bucket, env: str, commit: str) -> Finding:
    key = latest_key(env)
    expected = expectation("android", commit)
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
