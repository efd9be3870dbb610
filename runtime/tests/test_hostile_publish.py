"""``pwa publish``/``rollback``/``kill-switch`` against hostile builds and failing clouds.

A build folder is read as untrusted: links, special files, unsafe names, the bucket's own
``releases/`` records and empty entrypoints are refused before anything is uploaded. Two clouds
end on the same release or on the one they served before. A rollback is an undo.
"""

from __future__ import annotations

import json
import os
import threading
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from conftest import AlibabaApi, reset_moto, use_moto
from pwa_helpers import (
    ENTRYPOINTS,
    RefusingProxy,
    invoke,
    make_build,
    new_world,
    pointers,
    pwa_world,
)

from railyard_runtime.pwa import publish
from railyard_runtime.pwa import verify as pwa_verify
from railyard_runtime.pwa.publish import kill_switch_script

SECRET = b"root:x:0:0:host secret, never on a CDN\n"


@pytest.fixture
def world(aws, alibaba_api, edges, monkeypatch):
    return pwa_world(aws, alibaba_api, edges, monkeypatch)


@pytest.fixture
def live_r1(world, tmp_path):
    """r1 published on both clouds: what every refused publish must leave untouched (each
    bucket's listing: every key with the MD5 of its bytes, its size and its last write)."""
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    return _listings(world)


def _listings(world) -> dict[str, dict]:
    """Each bucket's listing: every key with the MD5 of its bytes, its size and its last write."""
    return {b: world.listing(b) for b in (world.aws_bucket, world.oss_bucket)}


@pytest.fixture(scope="module")
def _shared():
    """What ``published`` keeps between the tests of this module."""
    shared = SimpleNamespace(alibaba=AlibabaApi(), edges=[], world=None, listings=None)
    yield shared
    shared.alibaba.server.stop()
    for edge in shared.edges:
        edge.server.stop()


@pytest.fixture
def published(_shared, moto_endpoint, tmp_path_factory, monkeypatch):
    """(world, listings): r1 published on both clouds, what a refused publish must leave
    untouched, as ``live_r1`` but published once for every test that asserts it changed
    nothing, and again whenever the buckets are not as published (a test in between reset
    moto, or a failed one changed them)."""
    use_moto(moto_endpoint, monkeypatch)
    _shared.alibaba.use(monkeypatch)
    if _shared.world is not None:
        _shared.world.use(monkeypatch)
        try:
            if _listings(_shared.world) == _shared.listings:
                return _shared.world, _shared.listings
        except ClientError:  # NoSuchBucket: moto was reset
            pass
    reset_moto(moto_endpoint)
    for edge in _shared.edges:
        edge.server.stop()
    _shared.edges.clear()
    _shared.world = new_world(moto_endpoint, _shared.alibaba, _shared.edges)
    _shared.world.use(monkeypatch)
    dist = make_build(tmp_path_factory.mktemp("published"), "v1")
    _shared.world.run("pwa", "publish", str(dist), "--release", "r1")
    _shared.listings = _listings(_shared.world)
    return _shared.world, _shared.listings


@pytest.fixture
def proxy(world, aws, monkeypatch):
    """OSS reached through a proxy that can refuse chosen requests with 403."""
    refusing = RefusingProxy(aws)
    monkeypatch.setenv("RAILYARD_OSS_ENDPOINT", refusing.url)
    yield refusing
    refusing.stop()


def _refused(world, dist, before: dict, *told: str) -> str:
    """Publish ``dist`` as r2: exit 2, a message naming each of ``told``, no bucket touched."""
    result = world.run("pwa", "publish", str(dist), "--release", "r2", ok=False)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    for text in told:
        assert text in error, error
    assert "nothing was uploaded" in error
    for bucket, listing in before.items():
        assert world.listing(bucket) == listing  # not one object added, changed or rewritten
    return error


def _entrypoints(world, bucket: str) -> dict[str, bytes | None]:
    return world.read(bucket, ENTRYPOINTS)


def _built(dist) -> dict[str, bytes]:
    return {k: (dist / k).read_bytes() for k in ENTRYPOINTS}


# -- the build folder ------------------------------------------------------------------------


def test_every_problem_is_listed_at_once_before_anything_is_uploaded(world, tmp_path):
    """A fresh bucket too: the first asset would have gone up before the bad ones."""
    dist = make_build(tmp_path, "v1")
    (dist / "sw.js").write_bytes(b"")
    (dist / "static" / "z-link.js").symlink_to("/etc/hostname")
    (dist / "static" / "z\nnewline.js").write_bytes(b"x")
    empty = {world.aws_bucket: {}, world.oss_bucket: {}}

    error = _refused(world, dist, empty, "3 entries", "'sw.js'", "'static/z-link.js'")

    assert r"'static/z\nnewline.js'" in error


def test_a_symlink_to_a_host_file_is_refused_and_never_read(published, tmp_path):
    world, live_r1 = published
    secret = tmp_path / "host-passwd"
    secret.write_bytes(SECRET)
    dist = make_build(tmp_path, "v2")
    (dist / "assets" / "passwd.txt").symlink_to(secret)

    error = _refused(world, dist, live_r1, "'assets/passwd.txt'", "symbolic link", "cp -L")

    assert str(secret) in error  # says where it points
    for bucket in live_r1:
        assert not any(SECRET in body for body in world.objects(bucket).values())


def test_a_symlink_inside_the_build_is_refused_too(published, tmp_path):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    (dist / "favicon-copy.ico").symlink_to(dist / "favicon.ico")
    _refused(world, dist, live_r1, "'favicon-copy.ico'", "symbolic link")


def test_a_symlinked_folder_is_refused_not_followed(published, tmp_path):
    world, live_r1 = published
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "id_rsa").write_bytes(SECRET)
    dist = make_build(tmp_path, "v2")
    (dist / "static" / "home").symlink_to(outside, target_is_directory=True)
    _refused(world, dist, live_r1, "'static/home'", "symbolic link")


def test_a_fifo_is_refused_without_being_opened(published, tmp_path):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    fifo = dist / "assets" / "pipe.js"
    os.mkfifo(fifo)
    outcome: dict = {}

    def attempt() -> None:
        try:
            outcome["error"] = _refused(world, dist, live_r1, "'assets/pipe.js'")
        except BaseException as e:  # re-raised below, in the test's own thread
            outcome["failure"] = e

    # bounded: a publish that opened the FIFO would block until a writer came
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # release the reader, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10)
        pytest.fail("publish blocked on a FIFO")
    if "failure" in outcome:
        raise outcome["failure"]
    assert "not a regular file" in outcome["error"]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("evil\nname.js", r"'assets/evil\nname.js'"),
        ("tab\there.js", r"'assets/tab\there.js'"),
        ("del\x7f.js", r"'assets/del\x7f.js'"),
        ("\u202esj.exe", "U+202E"),  # right-to-left override: shows as "exe.js"
    ],
)
def test_a_name_with_control_characters_is_refused(published, tmp_path, name, shown):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    (dist / "assets" / name).write_bytes(b"x")
    _refused(world, dist, live_r1, shown, "control or invisible characters")


def test_a_name_that_is_not_utf8_is_refused(published, tmp_path):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    path = os.fsencode(dist / "assets") + b"/latin1-\xe9t\xe9.js"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    _refused(world, dist, live_r1, r"assets/latin1-\xe9t\xe9.js", "not valid UTF-8")


@pytest.mark.parametrize("name", ["..\\..\\index.html", "assets\\..\\sw.js", "a\\b.js"])
def test_a_dot_dot_like_name_is_refused(published, tmp_path, name):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    (dist / name).write_bytes(b"// not what it seems")
    _refused(world, dist, live_r1, repr(name), "'..'")


def test_a_releases_folder_cannot_overwrite_the_rollback_records(published, tmp_path):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    (dist / "releases").mkdir()
    (dist / "releases" / "live.json").write_text('{"release": "evil", "previous": null}')
    (dist / "releases" / "r1.json").write_text("{}")

    error = _refused(world, dist, live_r1, "'releases'", "release records")

    assert "live.json" not in error  # the folder is named once, not each file in it
    assert pointers(world, world.aws_bucket)[0] == "r1"


@pytest.mark.parametrize("entrypoint", ["sw.js", "index.html"])
def test_an_empty_entrypoint_is_refused(published, tmp_path, entrypoint):
    world, live_r1 = published
    dist = make_build(tmp_path, "v2")
    (dist / entrypoint).write_bytes(b"")
    _refused(world, dist, live_r1, repr(entrypoint), "is empty")


# -- two clouds ------------------------------------------------------------------------------


def test_a_missing_bucket_on_one_cloud_changes_neither(published, tmp_path, monkeypatch):
    world, live_r1 = published
    monkeypatch.setenv("RAILYARD_PWA_OSS_BUCKET", "railyard-dev-pwa-cn-typo")
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2", ok=False
    )

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert "--oss-bucket 'railyard-dev-pwa-cn-typo'" in error and "no such bucket" in error
    assert "Nothing was uploaded" in error
    assert world.listing(world.aws_bucket) == live_r1[world.aws_bucket]


def test_a_release_id_taken_on_one_cloud_changes_neither(world, tmp_path, monkeypatch):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    with monkeypatch.context() as only_oss:
        only_oss.delenv("RAILYARD_PWA_S3_BUCKET")
        world.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2")
    before = world.listing(world.aws_bucket)

    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v3")), "--release", "r2", ok=False
    )

    assert result.exit_code == 2
    assert "already published on alibaba" in json.loads(result.stdout)["error"]
    assert world.listing(world.aws_bucket) == before  # aws did not go live with r2 alone


@pytest.mark.parametrize("refused_key", ["sw.js", "releases/live.json"])
def test_a_cloud_refusing_the_switch_puts_both_back(world, tmp_path, proxy, live_r1, refused_key):
    v1, v2 = tmp_path / "dist-v1", make_build(tmp_path, "v2")
    invalidations = len(world.invalidations())
    refused = f"/{world.oss_bucket}/{refused_key}"
    proxy.refuse = lambda method, path: method == "PUT" and path == refused

    result = world.run("pwa", "publish", str(v2), "--release", "r2", ok=False)

    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert "alibaba could not switch to 'r2'" in error and "AccessDenied" in error
    assert "aws serves 'r1' again" in error and "alibaba serves 'r1' again" in error
    assert proxy.refused == [("PUT", refused)]
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _entrypoints(world, bucket) == _built(v1)  # both serve r1, byte for byte
        assert pointers(world, bucket)[0] == "r1"
        head = world.s3.head_object(Bucket=bucket, Key="sw.js")
        assert head["CacheControl"] == "no-cache"  # restored with its headers
    # aws had switched: its edges are told to fetch r1's entrypoints again
    assert len(world.invalidations()) == invalidations + 1

    proxy.refuse = lambda method, path: False  # the policy is fixed: the same publish goes on
    assert [r["release"] for r in world.json("pwa", "publish", str(v2), "--release", "r2")] == [
        "r2",
        "r2",
    ]
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _entrypoints(world, bucket) == _built(v2)


def test_a_first_publish_refused_on_one_cloud_leaves_both_empty(world, tmp_path, proxy):
    refused = f"/{world.oss_bucket}/sw.js"
    proxy.refuse = lambda method, path: method == "PUT" and path == refused
    result = world.run(
        "pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1", ok=False
    )

    assert result.exit_code == 1
    assert "aws serves nothing again" in json.loads(result.stdout)["error"]
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _entrypoints(world, bucket) == dict.fromkeys(ENTRYPOINTS)
        assert pointers(world, bucket) == (None, None, None)


def test_a_cloud_refusing_a_rollback_puts_both_back(world, tmp_path, proxy):
    v2 = make_build(tmp_path, "v2")
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    world.run("pwa", "publish", str(v2), "--release", "r2")
    refused = f"/{world.oss_bucket}/sw.js"
    proxy.refuse = lambda method, path: method == "PUT" and path == refused  # the copy

    result = world.run("pwa", "rollback", ok=False)

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert "alibaba could not roll back to 'r1'" in error and "aws serves 'r2' again" in error
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _entrypoints(world, bucket) == _built(v2)
        assert pointers(world, bucket)[:2] == ("r2", "r1")


# -- rollback is an undo ---------------------------------------------------------------------

# The table in docs/runtime.md, row by row: command -> (live, previous, last-known-good).
STATES = [
    (["publish", "v1", "--release", "r1"], ("r1", None, None)),
    (["verify"], ("r1", None, "r1")),
    (["publish", "v2", "--release", "r2"], ("r2", "r1", "r1")),
    (["verify"], ("r2", "r1", "r2")),
    (["rollback"], ("r1", "r2", None)),
    (["rollback"], ("r1", "r2", None)),
    (["verify"], ("r1", "r2", "r1")),
    (["kill-switch"], ("kill-switch", "r1", "r1")),
    (["rollback"], ("r1", "r2", "r1")),
    (["rollback"], ("r1", "r2", "r1")),
    (["publish", "v3", "--release", "r3"], ("r3", "r1", "r1")),
    (["rollback"], ("r1", "r3", "r1")),
    (["rollback", "--to", "r3"], ("r3", "r1", None)),
    (["verify"], ("r3", "r1", "r3")),
]


def test_the_documented_states_command_by_command(world, tmp_path):
    builds = {f"r{i}": make_build(tmp_path, f"v{i}") for i in (1, 2, 3)}
    for step, (command, expected) in enumerate(STATES, 1):
        args = [str(tmp_path / f"dist-{a}") if a in ("v1", "v2", "v3") else a for a in command]
        if command[0] == "verify":
            args += ["--deadline", "5"]
        world.run("pwa", *args)
        live = expected[0]
        served = kill_switch_script() if live == "kill-switch" else _built(builds[live])["sw.js"]
        for bucket in (world.aws_bucket, world.oss_bucket):
            assert pointers(world, bucket) == expected, f"step {step}: pwa {' '.join(command)}"
            entrypoints = _entrypoints(world, bucket)
            assert entrypoints["sw.js"] == served, f"step {step}"
            if live != "kill-switch":
                assert entrypoints == _built(builds[live])


def _publish_and_verify(world, tmp_path, *releases: str) -> None:
    for release in releases:
        dist = make_build(tmp_path, release.replace("r", "v"))
        world.run("pwa", "publish", str(dist), "--release", release)
        world.run("pwa", "verify", "--deadline", "5")


def test_a_retried_rollback_stays_on_the_release_it_went_to(world, tmp_path):
    _publish_and_verify(world, tmp_path, "r1", "r2")
    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r1", "r1"]

    again = world.json("pwa", "rollback")

    assert [r["release"] for r in again] == ["r1", "r1"]
    assert all(r["changedEntrypoints"] == [] and "keeps it" in r["note"] for r in again)
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _entrypoints(world, bucket) == _built(tmp_path / "dist-v1")
        # r2 was left by a rollback: not good until verified again
        assert pointers(world, bucket) == ("r1", "r2", None)


def test_rollback_after_the_kill_switch_restores_what_was_live(world, tmp_path):
    _publish_and_verify(world, tmp_path, "r1", "r2")
    world.run("pwa", "rollback")  # r1 live, r2 abandoned
    world.run("pwa", "kill-switch")

    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r1", "r1"]
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert _entrypoints(world, bucket) == _built(tmp_path / "dist-v1")


def test_verify_after_a_rollback_confirms_the_release_rolled_back_to(world, tmp_path):
    _publish_and_verify(world, tmp_path, "r1", "r2")
    world.run("pwa", "rollback")
    assert pointers(world, world.aws_bucket)[2] is None

    world.run("pwa", "verify", "--release", "r1", "--deadline", "5")

    for bucket in (world.aws_bucket, world.oss_bucket):
        assert pointers(world, bucket) == ("r1", "r2", "r1")


# -- verify racing a rollback, the kill switch over a corrupt pointer --------------------------


def test_a_rollback_during_verify_is_not_undone_by_it(world, tmp_path, monkeypatch):
    _publish_and_verify(world, tmp_path, "r1")
    world.run("pwa", "publish", str(make_build(tmp_path, "v2")), "--release", "r2")
    real_verify = pwa_verify.verify
    rolled_back = []

    def verify_while_rolling_back(targets, *args, on_attempt=None, **kwargs):
        def attempt(checks):
            if on_attempt:
                on_attempt(checks)
            # r2 matched on every CDN; a rollback lands before verify marks it good
            if all(c.ok for c in checks) and not rolled_back:
                rolled_back.extend(publish.rollback(targets))

        return real_verify(targets, *args, on_attempt=attempt, **kwargs)

    monkeypatch.setattr(pwa_verify, "verify", verify_while_rolling_back)

    result = world.run("pwa", "verify", "--deadline", "5", ok=False)

    assert [r.release for r in rolled_back] == ["r1", "r1"]
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert "live release changed on aws, alibaba during verification" in error
    for bucket in (world.aws_bucket, world.oss_bucket):
        assert pointers(world, bucket) == ("r1", "r2", "r1")  # r2 is not good again
    monkeypatch.setattr(pwa_verify, "verify", real_verify)
    world.run("pwa", "publish", str(make_build(tmp_path, "v3")), "--release", "r3")
    assert [r["release"] for r in world.json("pwa", "rollback")] == ["r1", "r1"]


@pytest.mark.parametrize("corrupt", [["oss"], ["aws", "oss"]])
def test_the_kill_switch_works_over_a_corrupt_live_pointer(world, tmp_path, corrupt):
    world.run("pwa", "publish", str(make_build(tmp_path, "v1")), "--release", "r1")
    garbage = b'{"release": "r1", \xff\x00 not json'
    buckets = {"aws": world.aws_bucket, "oss": world.oss_bucket}
    for name in corrupt:
        world.s3.put_object(Bucket=buckets[name], Key="releases/live.json", Body=garbage)

    result = world.run("pwa", "kill-switch", ok=False)

    assert result.exit_code == 0, result.output
    reports = {r["target"]: r for r in json.loads(result.stdout)}
    for name, bucket in buckets.items():
        copies = [k for k in world.keys(bucket) if k.startswith("releases/live.json.corrupt-")]
        stored = world.read(bucket, ["sw.js", "releases/live.json", *copies])
        assert stored["sw.js"] == kill_switch_script()
        live = json.loads(stored["releases/live.json"])
        assert live["release"] == "kill-switch"
        target = "aws" if name == "aws" else "alibaba"
        if name in corrupt:
            assert [stored[k] for k in copies] == [garbage]  # the old bytes, kept as they were
            assert copies[0] in reports[target]["note"]
            assert live["replaced"] is None
        else:
            assert copies == [] and reports[target]["note"] is None
            assert live["replaced"]["release"] == "r1"
    # the way back is named explicitly, as the note says
    assert [r["release"] for r in world.json("pwa", "rollback", "--to", "r1")] == ["r1", "r1"]


# -- token files (android build, scan code) ---------------------------------------------------

TOKEN_COMMANDS = {
    "android build": [
        "android",
        "build",
        "--commit",
        "9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a393f2a",
        "--agent-url",
        "http://127.0.0.1:9",
        "--deadline",
        "5",
    ],
    "scan code": [
        "scan",
        "code",
        "--repository",
        "acme/backend",
        "--commit",
        "9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a393f2a",
        "--api-url",
        "http://127.0.0.1:9",
    ],
}


def _with_token_file(command: str, path) -> tuple[int, str]:
    result = invoke(["--json", *TOKEN_COMMANDS[command], "--token-file", path])
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    return result.exit_code, result.stdout


@pytest.mark.parametrize("command", TOKEN_COMMANDS)
def test_a_fifo_as_token_file_is_refused_without_blocking(tmp_path, command):
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    outcome: dict = {}

    def attempt() -> None:
        try:
            outcome["result"] = _with_token_file(command, str(fifo))
        except BaseException as e:  # re-raised below, in the test's own thread
            outcome["failure"] = e

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # release the blocked reader, then fail
        with open(fifo, "w"):
            pass
        worker.join(timeout=10)
        pytest.fail("reading the token blocked on a FIFO")
    if "failure" in outcome:
        raise outcome["failure"]
    code, stdout = outcome["result"]
    assert code == 2, stdout
    error = json.loads(stdout)["error"]
    assert "--token-file" in error and "FIFO" in error and "not a regular file" in error


@pytest.mark.parametrize("command", TOKEN_COMMANDS)
@pytest.mark.parametrize(
    ("content", "told"),
    [
        (b"\xfftoken\xfe", "not UTF-8"),
        (b"", "the file is empty"),
        (b" \n\t\n", "the file is empty"),
        (b"ghp_abc\nX-Injected: 1", "line breaks"),
        (b"t" * (64 * 1024 + 1), "larger than"),
    ],
    ids=["not-utf8", "empty", "blank", "two-lines", "too-large"],
)
def test_a_token_file_that_holds_no_token_is_bad_input(tmp_path, command, content, told):
    path = tmp_path / "token"
    path.write_bytes(content)
    code, stdout = _with_token_file(command, str(path))
    assert code == 2, stdout
    error = json.loads(stdout)["error"]
    assert "--token-file" in error and told in error, error


@pytest.mark.parametrize("command", TOKEN_COMMANDS)
def test_a_directory_as_token_file_is_bad_input(tmp_path, command):
    code, stdout = _with_token_file(command, str(tmp_path))
    assert code == 2, stdout
    assert "is a directory" in json.loads(stdout)["error"]
