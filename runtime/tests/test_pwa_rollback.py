"""``pwa verify``, ``pwa rollback`` and ``pwa kill-switch`` on both clouds."""

from __future__ import annotations

import json

import pytest
from pwa_helpers import make_build, pwa_world

from railyard_runtime.pwa.publish import kill_switch_script


@pytest.fixture
def world(aws, alibaba_api, edges, monkeypatch):
    return pwa_world(aws, alibaba_api, edges, monkeypatch)


def _site(world, bucket: str, dist) -> tuple[dict, dict]:
    """(what the bucket serves for every file of ``dist``, the files of ``dist``)."""
    files = {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    return world.read(bucket, files), files


def _pointer(world, bucket: str, name: str) -> dict:
    body = world.s3.get_object(Bucket=bucket, Key=f"releases/{name}.json")["Body"].read()
    return json.loads(body)


def test_rollback_restores_the_previous_release_byte_for_byte_on_both_clouds(world, tmp_path):
    v1, v2 = make_build(tmp_path, "v1"), make_build(tmp_path, "v2")
    world.run("pwa", "publish", str(v1), "--release", "r1")
    world.run("pwa", "publish", str(v2), "--release", "r2")
    for bucket in (world.aws_bucket, world.oss_bucket):
        served, files = _site(world, bucket, v2)
        assert served == files

    reports = world.json("pwa", "rollback")

    assert [r["release"] for r in reports] == ["r1", "r1"]
    for bucket in (world.aws_bucket, world.oss_bucket):
        served, files = _site(world, bucket, v1)
        assert served == files  # every file of r1, entrypoints included, byte for byte
        live = _pointer(world, bucket, "live")
        assert (live["release"], live["previous"]) == ("r1", "r2")
        head = world.s3.head_object(Bucket=bucket, Key="sw.js")
        assert head["CacheControl"] == "no-cache"  # the copy kept the entrypoint's headers
    assert sorted(world.invalidations()[-1]) == ["/asset-manifest.json", "/index.html", "/sw.js"]
    assert len(world.alibaba.refreshed_paths()) == 3


def test_verify_compares_the_live_entrypoints_on_every_cdn_and_marks_last_known_good(
    world, tmp_path
):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    checks = world.json("pwa", "verify", "--release", "r1", "--deadline", "5")

    assert {c["url"] for c in checks} == {
        world.aws_edge.url + "/sw.js",
        world.aws_edge.url + "/asset-manifest.json",
        world.oss_edge.url + "/sw.js",
        world.oss_edge.url + "/asset-manifest.json",
    }
    assert all(c["ok"] for c in checks)
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _pointer(world, bucket, "last-known-good")["release"] == "r1"


def test_verify_fails_when_a_cdn_serves_other_bytes(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    world.s3.put_object(Bucket=world.oss_bucket, Key="sw.js", Body=b"// stale edge copy")

    result = world.run("pwa", "verify", "--deadline", "1", ok=False)

    assert result.exit_code == 1
    assert world.oss_edge.url + "/sw.js" in result.stdout
    keys = [o["Key"] for o in world.s3.list_objects_v2(Bucket=world.aws_bucket)["Contents"]]
    assert "releases/last-known-good.json" not in keys


def test_rollback_defaults_to_the_last_verified_release(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    world.run("pwa", "verify", "--deadline", "5")
    world.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2")
    world.run("pwa", "publish", str(make_build(tmp_path, "v3")), "--release", "r3")

    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r1", "r1"]
    assert [r["release"] for r in world.json("pwa", "rollback", "--to", "r2")] == ["r2", "r2"]
    served, files = _site(world, world.oss_bucket, tmp_path / "dist-v2")
    assert served == files


def test_kill_switch_then_rollback(world, tmp_path):
    v1 = make_build(tmp_path, "v1")
    world.run("pwa", "publish", str(v1), "--release", "r1")

    world.json("pwa", "kill-switch")
    script = kill_switch_script()
    assert b"registration.unregister()" in script
    for bucket in (world.aws_bucket, world.oss_bucket):
        head, body = world.head_and_body(bucket, "sw.js")
        assert body == script
        assert head["CacheControl"] == "no-cache"
        assert _pointer(world, bucket, "live")["release"] == "kill-switch"
    assert world.invalidations()[-1] == ["/sw.js"]
    assert world.run("pwa", "verify", "--deadline", "1", ok=False).exit_code == 1

    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r1", "r1"]
    for bucket in (world.aws_bucket, world.oss_bucket):
        served, files = _site(world, bucket, v1)
        assert served == files


def test_a_rollback_of_the_kill_switch_remembers_the_release_before_it(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    world.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2")
    world.run("pwa", "kill-switch")
    assert [r["release"] for r in world.json("pwa", "rollback", "--to", "r2")] == ["r2", "r2"]
    assert _pointer(world, world.aws_bucket, "live")["previous"] == "r1"  # not the kill switch
    # a rollback right after a rollback keeps what it went to; further back is named
    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r2", "r2"]
    assert [r["release"] for r in world.json("pwa", "rollback", "--to", "r1")] == ["r1", "r1"]


def test_a_publish_after_the_kill_switch_remembers_the_release_before_it(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    world.run("pwa", "kill-switch")
    world.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2")
    assert _pointer(world, world.aws_bucket, "live")["previous"] == "r1"
    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r1", "r1"]


@pytest.mark.parametrize(
    ("setup", "args", "message", "code"),
    [
        ([], ["pwa", "rollback"], "nothing is published", 1),
        (["r1"], ["pwa", "rollback"], "has no earlier release", 1),
        (["r1"], ["pwa", "rollback", "--to", "r9"], "--to 'r9': no such release", 2),
    ],
)
def test_rollback_refuses_with_the_reason(world, tmp_path, setup, args, message, code):
    for release in setup:
        world.run("pwa", "publish", str(make_build(tmp_path, release)), "--release", release)
    result = world.run(*args, ok=False)
    assert result.exit_code == code
    assert message in result.stdout


def test_rollback_refuses_a_release_whose_assets_expired_and_changes_nothing(world, tmp_path):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    world.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2")
    r1_files = json.loads(world.get(world.oss_bucket, "releases/r1.json"))["files"]
    bundle = next(k for k in r1_files if k.startswith("assets/app."))
    world.s3.delete_object(Bucket=world.oss_bucket, Key=bundle)  # as a lifecycle rule would

    result = world.run("pwa", "rollback", ok=False)

    assert result.exit_code == 1
    assert "can no longer be restored on alibaba" in result.stdout
    for bucket in (world.aws_bucket, world.oss_bucket):  # neither cloud moved
        assert _pointer(world, bucket, "live")["release"] == "r2"
        assert world.get(bucket, "sw.js") == (tmp_path / "dist-v2" / "sw.js").read_bytes()


def test_prune_keeps_the_newest_releases_and_what_live_needs(world, tmp_path):
    builds = {f"r{i}": make_build(tmp_path, f"v{i}") for i in range(1, 5)}
    for release, dist in builds.items():
        world.run("pwa", "publish", str(dist), "--release", release)
    world.run("pwa", "rollback", "--to", "r1")  # live: r1 (older than the kept ones)

    reports = world.json("pwa", "prune", "--keep", "2")

    for report in reports:
        assert sorted(report["keptReleases"]) == ["r1", "r3", "r4"]
        assert report["droppedReleases"] == ["r2"]
        assert report["deletedFiles"] == 1  # r2's bundle; the shared logo and css stay
    for bucket in (world.aws_bucket, world.oss_bucket):
        stored = world.keys(bucket)
        assert "releases/r2.json" not in stored
        assert not [k for k in stored if k.startswith("releases/r2/")]
        for release in ("r1", "r3", "r4"):  # every file of a kept release is still there
            record = json.loads(world.get(bucket, f"releases/{release}.json"))
            assert all(k in stored for k in record["files"])
    assert world.run("pwa", "rollback", "--to", "r2", ok=False).exit_code == 2
    assert [r["release"] for r in world.json("pwa", "rollback", "--to", "r3")] == ["r3", "r3"]


def test_prune_needs_at_least_one_release(world):
    result = world.run("pwa", "prune", "--keep", "0", ok=False)
    assert result.exit_code == 2
    assert "--keep 0" in result.stdout
