"""Attacks on release manifests and on the files the release-train jobs read.

Each hostile input must end in exit code 2 with a message naming the place and the fix, in
bounded time and output, and without anything uploaded. Inputs that could crash or hang the
interpreter run ``railyard-steps`` as a real process, under a timeout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import client
from test_release_manifest import GOOD, SHA
from typer.testing import CliRunner

from railyard_runtime.cli import app


def steps_command() -> list[str]:
    """The installed ``railyard-steps`` next to this interpreter (its entry point if not)."""
    found = shutil.which("railyard-steps", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    return [sys.executable, "-c", "from railyard_runtime.cli import main; main()"]


def validate_process(path: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``release validate`` in its own process: a segfault is a return code, a hang a timeout."""
    return subprocess.run(
        [*steps_command(), "release", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def validate(path: Path):
    return CliRunner().invoke(app, ["release", "validate", str(path)])


def refused(result, expected: str) -> str:
    """The output of a run that must exit 2 with ``expected``, and no traceback."""
    output = result.output
    assert result.exit_code == 2, (result.exit_code, output[-2000:], result.exception)
    assert "Traceback" not in output
    assert expected in output, output[-2000:]
    return output


@pytest.mark.parametrize("nesting", ["[" * 30_000, "- " * 30_000 + "x\n", "{a: " * 30_000])
def test_deep_nesting_is_refused_without_crashing(tmp_path, nesting):
    path = tmp_path / "deep.yaml"
    path.write_text(nesting)
    done = validate_process(path)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])  # -11: a segfault
    assert "Traceback" not in done.stderr
    assert f"{path}:1: nested more than 64 levels deep. Fix:" in done.stderr


def test_a_fifo_given_as_the_manifest_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "release.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = validate_process(fifo, timeout=20)  # the old loader blocked in open() forever
    assert done.returncode == 2, done.stderr
    assert f"{fifo}: is a FIFO (named pipe), not a regular file. Fix:" in done.stderr
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            GOOD.replace("name: product1", "name: product\xe9").encode("latin-1"),
            ":6: not UTF-8 text (byte 0xe9 in column 18). Fix: save the file as UTF-8",
        ),
        (
            GOOD.replace("name: product1", "name: prod\0uct1").encode(),
            ":6: contains a NUL byte, so it is not a text file. Fix: remove it",
        ),
        (
            GOOD.replace("name: product1", "name: prod\x07uct1").encode(),
            ":6: not valid YAML: control characters are not allowed. Fix:",
        ),
    ],
    ids=["not-utf8", "nul-byte", "control-character"],
)
def test_bytes_that_are_not_yaml_text_are_refused_with_their_line(tmp_path, data, expected):
    path = tmp_path / "r.yaml"
    path.write_bytes(data)
    refused(validate(path), f"{path}{expected}")


BILLION_LAUGHS = """\
environment: {name: e, shortName: e, destinationTagPrefix: e}
laughs:
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
products: *i
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BILLION_LAUGHS, ":3: anchors and aliases (&name, *name) are not supported. Fix:"),
        (
            GOOD + "extra: &key {k: v}\n? *key\n: value\n",
            ":31: anchors and aliases (&name, *name) are not supported. Fix:",
        ),
        (GOOD + "? [a, b]\n: value\n", ":31: a key that is a list or a mapping. Fix:"),
        (
            GOOD.replace("releaseCandidate: 2", "releaseCandidate: " + "9" * 5000),
            ":8: an integer of 5,000 digits, more than 100. Fix:",
        ),
        (
            GOOD.replace("  name: staging-us-east-2\n", "  <<: {name: staging-us-east-2}\n"),
            ":2: merge keys (<<) are not supported. Fix: write the keys out",
        ),
        (
            GOOD.replace("name: product1", "name: " + "p" * 70_000),
            ":6: a value of 70,000 characters, more than 65,536. Fix:",
        ),
    ],
    ids=["billion-laughs", "aliased-key", "list-as-key", "5000-digit-int", "merge-key", "long"],
)
def test_yaml_features_that_blow_up_or_crash_a_loader_are_refused(tmp_path, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    started = time.monotonic()
    refused(validate(path), f"{path}{expected}")
    assert time.monotonic() - started < 10


def test_a_manifest_over_the_size_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("w") as out:  # a valid manifest: the old loader spent a minute on 54 MB
        out.write(GOOD)
        out.write(("#" * 1023 + "\n") * (64 * 1024))
    started = time.monotonic()
    refused(validate(path), f"{path}: is {path.stat().st_size:,} bytes, more than the 4,194,304")
    assert time.monotonic() - started < 2


def test_a_hundred_thousand_bad_entries_print_a_bounded_report(tmp_path):
    path = tmp_path / "r.yaml"
    head = GOOD.split("    deployments:\n")[0] + "    deployments:\n"
    path.write_text(head + "      - not-a-deployment\n" * 100_000)
    started = time.monotonic()
    output = refused(validate(path), f"{path}:10: products[0].deployments[0]: Input should be")
    assert time.monotonic() - started < 30
    lines = output.splitlines()
    assert len(lines) == 51 and len(output) < 20_000, (len(lines), len(output))
    assert re.search(r"and 99,950 more problems not shown\. Fix: correct the ones above", output)
    assert f"{path}:59: products[0].deployments[49]" in output  # each shown one at its line


DEPLOYMENT = {
    "gitRepoName": "evil",
    "gitRepoShortName": "evil",
    "gitCommit": SHA,
    "workflowBase": "s3-upload",
    "deployTarget": "s3",
    "bucket": "portal-stage-us",
    "prefix": "app/",
    "source": "dist",
}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("gitRepoName", "../../other-org/x", "leaves its repository ('..')"),
        ("gitRepoName", "/etc/passwd", "is an absolute path"),
        ("source", "../../../etc", "leaves its repository ('..')"),
        ("source", "dist/../../..", "leaves its repository ('..')"),
        ("source", "/etc", "is an absolute path"),
        ("prefix", "../", "has a '.' or '..' segment"),
    ],
)
def test_paths_that_leave_the_checkout_are_refused_naming_the_field(
    tmp_path, field, value, expected
):
    entry = "".join(
        f"{'      - ' if i == 0 else '        '}{k}: {v}\n"
        for i, (k, v) in enumerate((DEPLOYMENT | {field: value}).items())
    )
    path = tmp_path / "r.yaml"
    path.write_text(GOOD.replace("    images:\n", entry + "    images:\n"))
    line = 28 + list(DEPLOYMENT).index(field)  # the entry starts where images: was
    output = refused(
        validate(path), f"{path}:{line}: products[0].deployments[3].{field}: {value!r} {expected}"
    )
    assert "Fix: " in output.split(expected)[1]


def test_paths_are_planned_in_normal_form(tmp_path):
    text = GOOD.replace(
        "        prefix: app/\n", "        prefix: app/\n        source: ./dist//\n"
    )
    path = tmp_path / "r.yaml"
    path.write_text(text)
    result = CliRunner().invoke(
        app, ["release", "plan", str(path), "--out-dir", str(tmp_path / "o"), "--chunk", "0"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "s3.json").read_text())[0]["source"] == "dist"


def checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout with dist/ to deploy, and a secret next to it that must never leave."""
    repo, dist = tmp_path / "src", tmp_path / "src" / "dist"
    (dist / "css").mkdir(parents=True)
    (dist / "index.html").write_text("<h1>1</h1>")
    (dist / "css" / "a.css").write_text("h1{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("the database password")
    return repo, dist


def deploy_s3(dist: Path, *extra: str):
    return CliRunner().invoke(
        app, ["deploy", "s3", "--bucket", "portal-stage-us", "--source", str(dist), *extra]
    )


def keys(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket="portal-stage-us").get("Contents", [])]


@pytest.mark.parametrize("link", ["../../secret.txt", "ABSOLUTE", "css/../../../secret.txt"])
def test_deploy_s3_refuses_a_symlink_out_of_its_folder_and_uploads_nothing(aws, tmp_path, link):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    _, dist = checkout(tmp_path)
    target = str(tmp_path / "secret.txt") if link == "ABSOLUTE" else link
    (dist / "z-leak.txt").symlink_to(target)
    output = refused(deploy_s3(dist), f"--source {str(dist)!r}: z-leak.txt is a symlink to")
    assert "outside the folder; nothing was deployed. Fix:" in output
    assert keys(s3) == []


def test_deploy_s3_refuses_a_fifo_in_its_folder_without_waiting_on_it(aws, tmp_path):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    _, dist = checkout(tmp_path)
    os.mkfifo(dist / "pipe")
    refused(deploy_s3(dist), "pipe is a FIFO (named pipe), not a regular file; nothing was")
    assert keys(s3) == []


def test_deploy_s3_follows_links_inside_its_folder_only(aws, tmp_path):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    repo, dist = checkout(tmp_path)
    (dist / "latest.css").symlink_to("css/a.css")
    result = deploy_s3(dist)
    assert result.exit_code == 0, result.output
    assert sorted(keys(s3)) == ["css/a.css", "index.html", "latest.css"]
    # the folder itself a link out of the checkout: refused when the checkout is given
    (repo / "www").symlink_to(tmp_path)
    output = refused(deploy_s3(repo / "www", "--checkout", str(repo)), "outside the checkout")
    assert "Fix: deploy a folder of the repository" in output


def test_deploy_lambda_refuses_to_zip_a_symlink_out_of_its_folder(aws, tmp_path):
    _, dist = checkout(tmp_path)
    (dist / "handler.py").symlink_to(tmp_path / "secret.txt")
    result = CliRunner().invoke(
        app, ["deploy", "lambda", "--function-name", "fn", "--source", str(dist)]
    )
    refused(result, "handler.py is a symlink to")


def test_brackets_in_a_manifest_print_as_text_not_console_markup(tmp_path):
    """A key like ``[/x]`` once crashed the error printer (rich markup) with a traceback."""
    path = tmp_path / "release.yaml"
    path.write_text(GOOD.replace("products:", '"[/x]": 1\nproducts:', 1))
    done = validate_process(path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "[/x]" in done.stderr


def link_out(tmp_path: Path, kind: str) -> tuple[Path, Path, Path]:
    """The checkout, a source in it that is a link to the secret beside it, and the secret."""
    repo, _ = checkout(tmp_path)
    secret = tmp_path / "secret.txt"
    if kind == "apigw":
        (repo / "swagger.yaml").symlink_to(secret)
        return repo, repo / "swagger.yaml", secret
    (repo / "fn").symlink_to(tmp_path)  # the folder itself leads out of the checkout
    return repo, repo / "fn", tmp_path


@pytest.mark.parametrize("kind", ["lambda", "s3", "apigw"])
def test_every_deploy_refuses_a_source_that_resolves_outside_the_checkout(aws, tmp_path, kind):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    apigw = client("apigateway", aws)
    api = apigw.create_rest_api(name="api")["id"]
    repo, source, real = link_out(tmp_path, kind)
    target = {
        "lambda": ["--function-name", "fn"],
        "s3": ["--bucket", "portal-stage-us"],
        "apigw": ["--rest-api-id", api, "--stage", "live"],
    }[kind]
    result = CliRunner().invoke(
        app,
        ["deploy", kind, *target, "--source", str(source), "--checkout", str(repo)],
    )
    output = refused(
        result, f"--source {str(source)!r} resolves to {str(real)!r}, outside the checkout"
    )
    assert "Fix: deploy a " in output and "the database password" not in output
    assert keys(s3) == []
    assert apigw.get_deployments(restApiId=api)["items"] == []


def write_bytes_name(folder: Path, name: bytes) -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as out:
        out.write(b"x")


@pytest.mark.parametrize("kind", ["lambda", "s3"])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (b"caf\xe9.txt", "'caf\\xe9.txt' is not valid UTF-8: rename it with UTF-8 characters"),
        (b"a\nb.txt", "'a\\nb.txt' contains control or invisible characters (U+000A): rename"),
        (b"css/..\\x", "'css/..\\\\x' has a '..', '.' or '\\' segment"),
    ],
    ids=["not-utf8", "newline", "backslash"],
)
def test_deploy_refuses_file_names_that_cannot_be_keys(aws, tmp_path, kind, name, expected):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    _, dist = checkout(tmp_path)
    write_bytes_name(dist, name)
    target = ["--function-name", "fn"] if kind == "lambda" else ["--bucket", "portal-stage-us"]
    result = CliRunner().invoke(app, ["deploy", kind, *target, "--source", str(dist)])
    refused(result, f"--source {str(dist)!r}: {expected}")
    assert keys(s3) == []


def test_deploy_s3_refuses_a_folder_it_cannot_list(aws, tmp_path, monkeypatch):
    """A sub-folder os.walk cannot list was skipped: a partial upload reported success."""
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    _, dist = checkout(tmp_path)
    locked = dist / "locked"
    locked.mkdir()
    (locked / "app.js").write_text("1")
    real_walk = os.walk

    def walk(top, topdown=True, onerror=None, followlinks=False):
        """os.walk as a non-root user sees a mode-000 folder (root reads through the mode)."""
        for here, dirnames, filenames in real_walk(top, topdown, onerror, followlinks):
            if Path(here) == locked.resolve():
                if onerror is not None:
                    onerror(PermissionError(13, "Permission denied", here))
                continue
            yield here, dirnames, filenames

    monkeypatch.setattr(os, "walk", walk)
    locked.chmod(0)
    try:
        output = refused(deploy_s3(dist), f"--source {str(dist)!r}: cannot list ")
    finally:
        locked.chmod(0o755)
    assert "(Permission denied); nothing was deployed. Fix: make it readable" in output
    assert keys(s3) == []


def test_deploy_s3_to_a_missing_bucket_names_the_option(aws, tmp_path):
    _, dist = checkout(tmp_path)  # the bucket is never created
    refused(deploy_s3(dist), "--bucket 'portal-stage-us': no such bucket: fix --bucket")


@pytest.mark.parametrize("value", ["2001-13-45", "!!int x", "!!float x", "2001-02-30 10:00:00"])
def test_a_value_yaml_cannot_build_is_named_with_its_line(tmp_path, value):
    """PyYAML's constructors raise plain errors on impossible dates or tagged nonsense."""
    path = tmp_path / "release.yaml"
    path.write_text(GOOD.replace("products:", f"note: {value}\nproducts:", 1))
    output = refused(validate(path), "not a valid value")
    assert f"{path}:" in output
