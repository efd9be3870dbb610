"""``pwa publish``: both clouds, hashed assets before entrypoints, nothing twice."""

from __future__ import annotations

import threading

import pytest
from pwa_helpers import ENTRYPOINTS, make_build, pwa_world

from railyard_runtime import clouds
from railyard_runtime.pwa import build, publish
from railyard_runtime.pwa.store import Bucket

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def world(aws, alibaba_api, edges, monkeypatch):
    return pwa_world(aws, alibaba_api, edges, monkeypatch)


def test_publish_puts_every_file_on_both_clouds_with_its_cache_rule(world, tmp_path):
    dist = make_build(tmp_path, "v1")
    reports = world.json("pwa", "publish", str(dist), "--release", "r1")

    assert {r["target"] for r in reports} == {"aws", "alibaba"}
    expected = {
        p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()
    }
    for bucket in (world.aws_bucket, world.oss_bucket):
        served = {k: world.head_and_body(bucket, k) for k in expected}  # headers and bytes
        assert {k: body for k, (_, body) in served.items()} == expected
        for key, (head, _) in served.items():
            if key in ENTRYPOINTS:
                assert head["CacheControl"] == "no-cache"
            elif key.startswith(("assets/", "static/")):
                assert head["CacheControl"] == IMMUTABLE
            else:
                assert head["CacheControl"] == "public, max-age=300"
        assert served["sw.js"][0]["ContentType"].startswith("text/javascript")
        stored = world.read(bucket, ["releases/r1.json", "releases/r1/entrypoints/sw.js"])
        assert b'"id": "r1"' in stored["releases/r1.json"]
        assert stored["releases/r1/entrypoints/sw.js"] == expected["sw.js"]
    # only the entrypoints are invalidated / refreshed, once per CDN
    assert [sorted(p) for p in world.invalidations()] == [
        ["/asset-manifest.json", "/index.html", "/sw.js"]
    ]
    assert [sorted(p) for p in world.alibaba.refreshed_paths()] == [
        sorted(world.oss_edge.url + "/" + e for e in ENTRYPOINTS)
    ]


def test_unchanged_republish_uploads_zero_bytes_and_invalidates_nothing(world, tmp_path):
    dist = make_build(tmp_path, "v1")
    world.run("pwa", "publish", str(dist), "--release", "r1")
    before = {  # the site itself; the records under releases/ may grow
        b: world.read(b, [k for k in world.keys(b) if not k.startswith("releases/")])
        for b in (world.aws_bucket, world.oss_bucket)
    }

    for release in ("r1", "r1-again"):
        reports = world.json("pwa", "publish", str(dist), "--release", release)
        assert [r["uploadedBytes"] for r in reports] == [0, 0]
        assert [r["uploadedFiles"] for r in reports] == [0, 0]
        assert all(r["changedEntrypoints"] == [] and r["invalidation"] is None for r in reports)
    assert len(world.invalidations()) == 1
    assert len(world.alibaba.refreshed_paths()) == 1
    for bucket, objects in before.items():
        assert world.read(bucket, objects) == objects


def test_a_new_build_uploads_only_what_changed(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    v2 = make_build(tmp_path, "v2")
    reports = world.json("pwa", "publish", str(v2), "--release", "r2")
    changed = {p for p in v2.rglob("*") if p.is_file()} - {
        p
        for p in v2.rglob("*")
        if p.is_file()
        and (tmp_path / "dist-v1" / p.relative_to(v2)).exists()
        and (tmp_path / "dist-v1" / p.relative_to(v2)).read_bytes() == p.read_bytes()
    }
    for r in reports:
        assert r["uploadedFiles"] == len(changed) == 4  # new bundle + three entrypoints
        assert r["uploadedBytes"] == sum(p.stat().st_size for p in changed)
        assert sorted(r["changedEntrypoints"]) == ["/asset-manifest.json", "/index.html", "/sw.js"]


def test_entrypoints_are_uploaded_after_every_hashed_asset(world, tmp_path):
    """Observed on the wire: no entrypoint PUT starts before every asset PUT has finished."""
    # 24 assets, three times the 8 uploads at a time: some are still going up while the
    # last ones start
    files = build.scan(make_build(tmp_path, "v1", extra_files=20))
    events: list[tuple[str, str, str]] = []  # (bucket, "start" | "done", key)
    lock = threading.Lock()

    def bucket(name: str):
        s3 = clouds.new_aws_client("s3")  # hooks of its own: a shared client would record both

        def record(what: str):
            def hook(params=None, **kwargs):
                key = params["Key"] if params else kwargs["context"]["railyard_key"]
                with lock:
                    events.append((name, what, key))
                if params:
                    kwargs["context"]["railyard_key"] = key

            return hook

        s3.meta.events.register("before-parameter-build.s3.PutObject", record("start"))
        s3.meta.events.register("after-call.s3.PutObject", record("done"))
        return Bucket(s3, name)

    targets = [
        publish.Target("aws", bucket(world.aws_bucket)),
        publish.Target("cn", bucket(world.oss_bucket)),
    ]
    publish.publish(files, "r1", targets, concurrency=8)

    assets = {f.key for f in files if not f.is_entrypoint}
    for name in (world.aws_bucket, world.oss_bucket):
        mine = [(what, key) for b, what, key in events if b == name]
        last_asset_done = max(i for i, (w, k) in enumerate(mine) if w == "done" and k in assets)
        entry_starts = [i for i, (w, k) in enumerate(mine) if w == "start" and k in ENTRYPOINTS]
        assert len(entry_starts) == 3
        assert min(entry_starts) > last_asset_done
        assert [k for w, k in mine if w == "start" and k in ENTRYPOINTS][-1] == "sw.js"
        assert {k for w, k in mine if w == "done"} >= assets


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pwa", "publish", "/nonexistent/dist", "--release", "r1"], "is not a folder"),
        (["pwa", "publish", "{empty}", "--release", "r1"], "has no /sw.js, /index.html"),
        (["pwa", "publish", "{dist}", "--release", "../etc"], "--release '../etc'"),
        (["pwa", "publish", "{dist}", "--release", "live"], "--release 'live'"),
        (
            ["pwa", "publish", "{dist}", "--release", "r1", "--hashed-path", "assets"],
            "--hashed-path",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_field(world, tmp_path, args, message):
    dist = make_build(tmp_path, "v1")
    (tmp_path / "empty").mkdir()
    args = [a.format(dist=dist, empty=tmp_path / "empty") for a in args]
    result = world.run(*args, ok=False)
    assert result.exit_code == 2
    assert message in result.stdout
    assert world.objects(world.aws_bucket) == {}  # nothing written


def test_a_release_id_cannot_be_reused_for_other_files(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r1", ok=False
    )
    assert result.exit_code == 2
    assert "already published" in result.stdout and "new release id" in result.stdout


def test_no_target_is_a_clear_error(world, tmp_path, monkeypatch):
    monkeypatch.delenv("RAILYARD_PWA_S3_BUCKET")
    monkeypatch.delenv("RAILYARD_PWA_OSS_BUCKET")
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )
    assert result.exit_code == 2
    assert "--s3-bucket and/or --oss-bucket" in result.stdout
