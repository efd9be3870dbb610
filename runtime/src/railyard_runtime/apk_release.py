"""``android publish``: make a built APK the environment's release, after the gates passed.

The build farm leaves ``apks/<commit>/<job>.apk`` in the artifacts bucket; publishing copies
it server-side to ``releases/<env>/<commit>.apk`` and points ``releases/<env>/latest.json`` at
it. Copy before pointer, so a reader of ``latest.json`` never sees a missing file; running it
again for the same APK changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.pwa.store import Bucket

_OSS_URL = re.compile(r"^oss://(?P<bucket>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])/(?P<key>apks/.+\.apk)$")


class ApkRelease(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    env: str
    commit: str
    feature: str
    apk: str
    built_from: str
    published_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def latest_key(env: str) -> str:
    """The pointer to ``env``'s released APK."""
    return f"releases/{env}/latest.json"


def parse_apk_url(url: str) -> tuple[str, str]:
    match = _OSS_URL.match(url.strip())
    if not match:
        raise BadInput(
            f"--apk {url!r}: expected oss://<bucket>/apks/<commit>/<job>.apk "
            "(what `android build --artifact-file` wrote)"
        )
    return match["bucket"], match["key"]


def publish(client, apk_url: str, env: str, commit: str, feature: str) -> tuple[ApkRelease, bool]:
    """Copy the APK into the env's releases and move ``latest.json``; (record, changed)."""
    bucket_name, key = parse_apk_url(apk_url)
    if f"/{commit}/" not in f"/{key}":
        raise BadInput(f"--apk {apk_url!r} was not built from --commit {commit}")
    bucket = Bucket(client, bucket_name)
    built = bucket.sha256(key)
    if built is None and bucket.get(key) is None:
        raise StepError(f"{apk_url}: no such object; did the build upload it?")
    target = f"releases/{env}/{commit}.apk"
    latest = bucket.get_model(latest_key(env), ApkRelease)
    if latest and latest.apk == target and latest.built_from == apk_url:
        return latest, False
    bucket.copy(key, target)
    record = ApkRelease(env=env, commit=commit, feature=feature, apk=target, built_from=apk_url)
    bucket.put_model(latest_key(env), record)
    return record, True
