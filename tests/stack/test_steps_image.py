"""The pipeline-steps image as the real program registers it: built from runtime/, pushed to
the ECR repository the stack creates, tagged by content, exported by digest."""

from __future__ import annotations

import re
import shutil

import pytest

import railyard_runtime
from offline.runner import UNKNOWN_MASK, run_offline
from railyard.image_context import INPUTS, SKIPPED_PARTS, content_tag
from stacks.program import RUNTIME_DIR

IMAGE = "docker-build:index:Image"


def test_the_image_is_built_from_the_runtime_package_and_pushed_to_its_repository(stack_plan):
    image = stack_plan.one(IMAGE)
    repo_url = stack_plan.outputs["ecrRepositoryUrls"]["railyard/steps"]
    inputs = image.inputs
    assert inputs["context"] == {"location": str(RUNTIME_DIR)}
    assert inputs["dockerfile"] == {"location": str(RUNTIME_DIR / "Dockerfile")}
    assert inputs["push"] is True
    assert inputs["buildOnPreview"] is False
    assert inputs["platforms"] == ["linux/amd64"]
    tag = content_tag(RUNTIME_DIR, railyard_runtime.__version__)
    assert inputs["tags"] == [f"{repo_url}:{tag}"]
    (registry,) = inputs["registries"]
    assert registry["address"] == repo_url.split("/")[0]
    assert registry["username"] == "AWS"
    assert image.is_secret("registries[0].password")


def test_the_image_is_exported_by_digest_known_after_up(stack_plan):
    # offline (as in a preview) the digest is unknown; the export is <repository>@<digest>
    assert stack_plan.outputs["stepsImage"] == UNKNOWN_MASK
    component = stack_plan.one("railyard:delivery:StepsImage")
    assert stack_plan.by_urn(stack_plan.one(IMAGE).parent) == component


def test_the_steps_repository_is_configurable():
    plan = run_offline(
        "dev",
        {
            "railyard:ecrRepositories": ["tools/pipeline", "backend/api"],
            "railyard:stepsImageRepository": "tools/pipeline",
            "railyard:releaseScanImages": ["backend/api"],
        },
    )
    assert plan.one(IMAGE).inputs["tags"][0].split(":")[0].endswith("/tools/pipeline")


def test_the_tag_changes_with_the_content_and_only_then(tmp_path):
    copy = tmp_path / "runtime"
    shutil.copytree(RUNTIME_DIR, copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    before = content_tag(copy, "0.1.0")
    assert re.fullmatch(r"0\.1\.0-[0-9a-f]{12}", before)
    (copy / "src" / "railyard_runtime" / "__pycache__").mkdir(exist_ok=True)
    (copy / "src" / "railyard_runtime" / "__pycache__" / "x.pyc").write_bytes(b"noise")
    (copy / "tests").mkdir(exist_ok=True)
    (copy / "tests" / "test_new.py").write_text("# not in the image")
    assert content_tag(copy, "0.1.0") == before
    with (copy / "src" / "railyard_runtime" / "events.py").open("a") as f:
        f.write("# changed\n")
    assert content_tag(copy, "0.1.0") != before


def test_a_missing_dockerfile_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dockerfile"):
        content_tag(tmp_path, "0.1.0")


def test_the_dockerfile_pins_every_base_image_by_digest():
    lines = (RUNTIME_DIR / "Dockerfile").read_text().splitlines()
    bases = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert bases
    assert all(re.search(r"@sha256:[0-9a-f]{64}$", b) for b in bases), bases
    assert not any(line.startswith("# syntax=") for line in lines)  # an unpinned frontend
    for line in lines:  # every COPY source exists in the build context
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (RUNTIME_DIR / source).exists(), source


def test_the_tag_hashes_exactly_what_docker_may_copy():
    """The content tag and .dockerignore name the same inputs (else a change could keep a tag)."""
    ignore = (RUNTIME_DIR / ".dockerignore").read_text().splitlines()
    allowed = sorted(line[1:].rstrip("/") for line in ignore if line.startswith("!"))
    assert sorted(INPUTS) == sorted(["Dockerfile", *allowed])
    excluded = [line.removeprefix("**/").lstrip("*") for line in ignore if line.startswith("**/")]
    assert sorted(excluded) == sorted(SKIPPED_PARTS)
