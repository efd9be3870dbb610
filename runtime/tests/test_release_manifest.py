"""The release manifest: schema, line-numbered errors, expansion into chunks of jobs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from railyard_runtime.cli import app
from railyard_runtime.release import manifest, plan

SHA = "0930014f81f655d0c50f8172a575fc50128716bd"

GOOD = f"""\
environment:
  name: staging-us-east-2
  shortName: stage-us
  destinationTagPrefix: stage_us
products:
  - name: product1
    releaseVersion: 1.9.0
    releaseCandidate: 2
    deployments:
      - gitRepoName: cloudfront-edge-s3-lambda
        gitRepoShortName: cf-edge-s3
        gitCommit: {SHA}
        workflowBase: lambda-job
        deployTarget: lambda
      - gitRepoName: public-portal
        gitRepoShortName: portal
        gitCommit: {SHA}
        workflowBase: s3-upload-portal
        deployTarget: s3
        bucket: portal-stage-us
        prefix: app/
      - gitRepoName: main-aws-api-gateway-swagger
        gitRepoShortName: apigw-main
        gitCommit: {SHA}
        workflowBase: api-gw-deploy
        deployTarget: apigw
        restApiId: a1b2c3d4e5
    images:
      - repoName: product1/microservice-1
        sourceTag: dev_123
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(manifest.ManifestError) as caught:
        manifest.parse(text, "r.yaml")
    return caught.value.message.splitlines()


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_the_seed_shaped_manifest_is_valid_and_expands_to_one_job_per_artifact():
    parsed = manifest.parse(GOOD)
    jobs = plan.jobs_by_kind(parsed, 0)
    assert jobs["lambda"] == [
        {
            "name": "product1-cf-edge-s3",
            "template": "lambda-job",
            "flavour": "lambda-job",
            "repo": "cloudfront-edge-s3-lambda",
            "commit": SHA,
            "source": ".",
            "functionName": "stage-us-cf-edge-s3",
        }
    ]
    assert jobs["s3"][0]["bucket"] == "portal-stage-us"
    assert jobs["s3"][0]["prefix"] == "app/"
    assert jobs["apigw"][0]["stage"] == "stage-us"  # defaults to the env's shortName
    assert jobs["image"] == [{"name": "images-0", "template": "image-promote", "chunk": "0"}]
    assert plan.image_moves(parsed) == [("product1/microservice-1", "dev_123", "stage_us_123")]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # unknown type
        (
            ("deployTarget: lambda", "deployTarget: ftp"),
            "r.yaml:14: products[0].deployments[0].deployTarget: Input should be 'lambda', 's3'",
        ),
        # missing commit: reported at the entry that lacks it
        (
            (
                f"        gitCommit: {SHA}\n        workflowBase: lambda-job",
                "        workflowBase: lambda-job",
            ),
            "r.yaml:10: products[0].deployments[0].gitCommit: required field is missing",
        ),
        # short commit
        (
            (
                f"gitCommit: {SHA}\n        workflowBase: lambda-job",
                "gitCommit: abc123\n        workflowBase: lambda-job",
            ),
            "r.yaml:12: products[0].deployments[0].gitCommit: must be a full 40-character",
        ),
        # duplicate repository
        (
            ("gitRepoName: public-portal", "gitRepoName: cloudfront-edge-s3-lambda"),
            "r.yaml:15: products[0].deployments[1].gitRepoName: repository "
            "'cloudfront-edge-s3-lambda' is already listed on line 10",
        ),
        # typo in a field name
        (
            ("        prefix: app/", "        prefx: app/"),
            "r.yaml:21: products[0].deployments[1].prefx: unknown field",
        ),
        # job template of another target
        (
            ("workflowBase: api-gw-deploy", "workflowBase: lambda-job"),
            "r.yaml:25: products[0].deployments[2].workflowBase: 'lambda-job' is not a apigw job",
        ),
        # a target without where to deploy
        (
            ("        restApiId: a1b2c3d4e5\n", ""),
            "r.yaml:22: products[0].deployments[2]: deployTarget apigw needs restApiId",
        ),
        # key given twice
        (
            ("  shortName: stage-us\n", "  shortName: stage-us\n  shortName: stage-eu\n"),
            "r.yaml:4: not valid YAML: key 'shortName' given twice (first on line 3)",
        ),
        # bad YAML
        (("    releaseCandidate: 2", "    releaseCandidate: [2"), "r.yaml:8: not valid YAML"),
    ],
)
def test_bad_manifests_get_line_numbered_errors(edit, expected):
    problems = problems_of(replace_line(GOOD, *edit))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_of_a_file_is_reported_at_once():
    text = replace_line(GOOD, "deployTarget: lambda", "deployTarget: ftp")
    text = replace_line(text, "releaseCandidate: 2", "releaseCandidate: 0")
    problems = problems_of(text)
    assert [p.split(":")[1] for p in problems] == ["8", "14"]


def test_a_document_that_is_not_a_mapping_is_refused():
    assert problems_of("- just\n- a list\n")[0].startswith("r.yaml:1: must be a mapping")


def manifest_with(artifacts: int) -> manifest.Manifest:
    deployments = [
        {
            "gitRepoName": f"repo-{i}",
            "gitRepoShortName": f"r{i}",
            "gitCommit": SHA,
            "workflowBase": "lambda-job",
            "deployTarget": "lambda",
        }
        for i in range(artifacts // 2)
    ]
    images = [
        {"repoName": f"svc/s{i}", "sourceTag": f"dev_{i}"}
        for i in range(artifacts - len(deployments))
    ]
    return manifest.Manifest.model_validate(
        {
            "environment": {"name": "e", "shortName": "e", "destinationTagPrefix": "e"},
            "products": [
                {
                    "name": "p",
                    "releaseVersion": "1.0.0",
                    "releaseCandidate": 1,
                    "deployments": deployments,
                    "images": images,
                }
            ],
        }
    )


def test_chunks_cover_every_artifact_exactly_once_in_file_order():
    big = manifest_with(1000)
    assert plan.chunk_count(big, 50) == 20
    seen = [e.item for i in range(20) for e in plan.chunk(big, i, 50)]
    assert seen == [e.item for e in plan.entries(big)]
    moved = [m for i in range(20) for m in plan.image_moves(big, i, 50)]
    assert moved == plan.image_moves(big)
    with pytest.raises(IndexError):
        plan.chunk(big, 20, 50)


def test_release_plan_writes_the_files_the_deployer_fans_out_over(tmp_path):
    path = tmp_path / "stage-us.yaml"
    path.write_text(GOOD)
    runner = CliRunner()
    result = runner.invoke(
        app, ["--json", "release", "plan", str(path), "--out-dir", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "chunks.json").read_text()) == [0]
    result = runner.invoke(
        app, ["release", "plan", str(path), "--out-dir", str(tmp_path / "c"), "--chunk", "0"]
    )
    assert result.exit_code == 0, result.output
    assert [j["name"] for j in json.loads((tmp_path / "c" / "s3.json").read_text())] == [
        "product1-portal"
    ]
    result = runner.invoke(
        app, ["release", "plan", str(path), "--out-dir", str(tmp_path / "c"), "--chunk", "3"]
    )
    assert result.exit_code == 2
    assert "--chunk 3: the manifest has chunks 0..0" in result.output


def test_release_validate_reports_every_file_and_exits_2(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(replace_line(GOOD, "deployTarget: lambda", "deployTarget: ftp"))
    result = CliRunner().invoke(app, ["release", "validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:14: products[0].deployments[0].deployTarget" in result.output
    result = CliRunner().invoke(app, ["--json", "release", "validate", str(good)])
    assert result.exit_code == 0
    assert json.loads(result.output)[0]["artifacts"] == 4
