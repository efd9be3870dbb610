"""Release-train jobs, gates and the APK release, against moto's server and a local GitHub API."""

from __future__ import annotations

import io
import json
import zipfile
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from conftest import REGION, LocalServer, client, push_image
from typer.testing import CliRunner

from railyard_runtime.cli import app

SHA = "0930014f81f655d0c50f8172a575fc50128716bd"


def run(*args: str):
    result = CliRunner().invoke(app, ["--json", *args])
    try:
        return result, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result, None


def lambda_function(aws: str, name: str) -> None:
    iam = client("iam", aws)
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("handler.py", "def main(e, c): return 0\n")
    client("lambda", aws).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.main",
        Code={"ZipFile": buffer.getvalue()},
    )


def test_lambda_job_updates_code_once_and_is_a_no_op_when_run_again(aws, tmp_path):
    lambda_function(aws, "stage-us-lic-verf")
    (tmp_path / "handler.py").write_text("def main(e, c): return 1\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("X = 1\n")
    args = ("deploy", "lambda", "--function-name", "stage-us-lic-verf", "--source", str(tmp_path))
    result, first = run(*args)
    assert result.exit_code == 0, result.output
    assert first["changed"] is True
    code_sha = client("lambda", aws).get_function_configuration(FunctionName="stage-us-lic-verf")[
        "CodeSha256"
    ]
    assert code_sha in first["detail"]
    (tmp_path / "handler.py").touch()  # a new mtime alone must not make a new zip
    result, again = run(*args)
    assert result.exit_code == 0, result.output
    assert again["changed"] is False


def test_lambda_job_names_a_missing_function(aws, tmp_path):
    result, error = run("deploy", "lambda", "--function-name", "nope", "--source", str(tmp_path))
    assert result.exit_code == 1
    assert "'nope' does not exist" in error["error"]


def test_s3_job_uploads_changed_files_only(aws, tmp_path):
    s3 = client("s3", aws)
    s3.create_bucket(Bucket="portal-stage-us")
    dist = tmp_path / "dist"
    (dist / "css").mkdir(parents=True)
    (dist / "index.html").write_text("<h1>1</h1>")
    (dist / "css" / "a.css").write_text("h1{}")
    args = ("deploy", "s3", "--bucket", "portal-stage-us", "--prefix", "app", "--source", str(dist))
    result, first = run(*args)
    assert result.exit_code == 0, result.output
    assert first["detail"] == "2 of 2 files uploaded"
    head = s3.head_object(Bucket="portal-stage-us", Key="app/css/a.css")
    assert head["ContentType"] == "text/css"
    (dist / "index.html").write_text("<h1>2</h1>")
    result, second = run(*args)
    assert second["detail"] == "1 of 2 files uploaded"
    body = s3.get_object(Bucket="portal-stage-us", Key="app/index.html")["Body"].read()
    assert body == b"<h1>2</h1>"
    result, third = run(*args)
    assert third["changed"] is False


# OpenAPI 3: API Gateway takes Swagger 2.0 as well, moto only 3.x
SWAGGER = """\
openapi: 3.0.1
info: {title: main, version: "1.0"}
paths:
  /ping:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        httpMethod: GET
        uri: ""
        requestTemplates: {application/json: '{"statusCode": 200}'}
"""


def test_apigw_job_overwrites_the_api_and_deploys_the_stage(aws, tmp_path):
    apigw = client("apigateway", aws)
    api = apigw.create_rest_api(name="main")["id"]
    (tmp_path / "swagger.yaml").write_text(SWAGGER)
    result, _ = run(
        "deploy",
        "apigw",
        "--rest-api-id",
        api,
        "--stage",
        "stage_us",
        "--source",
        str(tmp_path / "swagger.yaml"),
        "--description",
        f"apigw-main@{SHA}",
    )
    assert result.exit_code == 0, result.output
    paths = [r["path"] for r in apigw.get_resources(restApiId=api)["items"]]
    assert "/ping" in paths
    deployments = apigw.get_deployments(restApiId=api)["items"]
    assert [d["description"] for d in deployments] == [f"apigw-main@{SHA}"]
    assert (
        apigw.get_stage(restApiId=api, stageName="stage_us")["deploymentId"] == deployments[0]["id"]
    )


def test_deploy_jobs_name_a_missing_source(aws, tmp_path):
    result, error = run("deploy", "s3", "--bucket", "b", "--source", str(tmp_path / "dist"))
    assert result.exit_code == 2
    assert "--source" in error["error"] and "not a directory" in error["error"]


def scan_result(aws: str, repo: str, tag: str, status: str, counts: dict[str, int]) -> None:
    body = {
        "results": [
            {
                "imageScanFindings": {"findingSeverityCounts": counts, "findings": []},
                "registryId": "123456789012",
                "repositoryName": repo,
                "imageId": {"imageTag": tag},
                "imageScanStatus": {"status": status, "description": "x"},
            }
        ],
        "region": REGION,
    }
    httpx.post(f"{aws}/moto-api/static/ecr/scan-finding-results", json=body).raise_for_status()


def pushed(aws: str, repo: str, tag: str) -> None:
    ecr = client("ecr", aws)
    ecr.create_repository(repositoryName=repo)
    push_image(ecr, repo, tag, "sha256:" + "a" * 64)
    ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": tag})  # as scan-on-push does


@pytest.mark.parametrize(
    ("counts", "block", "exit_code"),
    [
        ({"MEDIUM": 3}, "CRITICAL,HIGH", 0),
        ({"HIGH": 1, "MEDIUM": 3}, "CRITICAL,HIGH", 1),
        ({"HIGH": 1}, "CRITICAL", 0),
    ],
)
def test_image_gate_blocks_on_the_configured_severities(aws, counts, block, exit_code):
    pushed(aws, "backend/api", SHA)
    scan_result(aws, "backend/api", SHA, "COMPLETE", counts)
    result, out = run("scan", "images", "--image", f"backend/api:{SHA}", "--block", block)
    assert result.exit_code == exit_code, result.output
    if exit_code:
        assert f"backend/api:{SHA}" in out["error"]


def test_image_gate_blocks_a_failed_scan_and_refuses_bad_severities(aws):
    pushed(aws, "backend/api", SHA)
    scan_result(aws, "backend/api", SHA, "FAILED", {})
    result, _ = run("scan", "images", "--image", f"backend/api:{SHA}")
    assert result.exit_code == 1
    result, error = run("scan", "images", "--image", f"backend/api:{SHA}", "--block", "SEVERE")
    assert result.exit_code == 2
    assert "--block 'SEVERE'" in error["error"]


class GitHub(BaseHTTPRequestHandler):
    """GitHub's code-scanning API for one repository with one analysed commit."""

    alerts: ClassVar[dict[str, int]] = {}
    seen: ClassVar[list[tuple[str, dict, str]]] = []

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        GitHub.seen.append((url.path, query, self.headers.get("Authorization", "")))
        if self.headers.get("Authorization") != "Bearer gh-token":
            return self.answer(401, {"message": "Bad credentials"})
        if url.path == "/repos/acme/backend/code-scanning/analyses":
            found = query.get("sha") == SHA
            return self.answer(
                200, [{"ref": "refs/heads/main", "tool": {"name": "CodeQL"}}] * found
            )
        if url.path == "/repos/acme/backend/code-scanning/alerts":
            count = (
                self.alerts.get(query["severity"], 0) if query["ref"] == "refs/heads/main" else 0
            )
            return self.answer(200, [{"number": n} for n in range(count)])
        return self.answer(404, {"message": "Not Found"})

    def answer(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def github(tmp_path):
    GitHub.alerts, GitHub.seen = {}, []
    server = LocalServer(GitHub)
    token = tmp_path / "token"
    token.write_text("gh-token\n")
    yield server.url, token
    server.stop()


def code_gate(api: str, token, commit: str = SHA, *extra: str):
    return run(
        "scan",
        "code",
        "--repository",
        "acme/backend",
        "--commit",
        commit,
        "--token-file",
        str(token),
        "--api-url",
        api,
        *extra,
    )


def test_code_gate_passes_an_analysed_commit_without_blocking_alerts(github):
    api, token = github
    GitHub.alerts = {"medium": 4}
    result, out = code_gate(api, token)
    assert result.exit_code == 0, result.output
    assert out["tools"] == ["CodeQL"]
    asked = {q["severity"] for path, q, _ in GitHub.seen if path.endswith("/alerts")}
    assert asked == {"critical", "high", "error"}


def test_code_gate_blocks_open_alerts_and_unanalysed_commits(github):
    api, token = github
    GitHub.alerts = {"high": 2}
    result, out = code_gate(api, token)
    assert result.exit_code == 1
    assert "{'high': 2}" in out["error"]
    result, out = code_gate(api, token, "f" * 40)
    assert result.exit_code == 1
    assert "no code-scanning analysis for this commit" in out["error"]


def test_code_gate_without_a_token_names_the_stack_secret(github, tmp_path):
    api, _ = github
    result, out = code_gate(api, tmp_path / "missing")
    assert result.exit_code == 2
    assert "pulumi config set --secret githubToken" in out["error"]


def test_code_gate_names_a_bad_token(github, tmp_path):
    api, _ = github
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    result, out = code_gate(api, wrong)
    assert result.exit_code == 2
    assert "security_events" in out["error"]


def test_apk_publish_copies_then_points_latest_and_is_idempotent(aws, monkeypatch):
    oss = client("s3", aws)
    oss.create_bucket(Bucket="railyard-dev-artifacts")
    oss.put_object(Bucket="railyard-dev-artifacts", Key=f"apks/{SHA}/j1.apk", Body=b"APK")
    monkeypatch.setenv("RAILYARD_OSS_ENDPOINT", aws)
    args = (
        "android",
        "publish",
        "--apk",
        f"oss://railyard-dev-artifacts/apks/{SHA}/j1.apk",
        "--env",
        "dev",
        "--commit",
        SHA,
        "--feature",
        "PROJ-123",
        "--oss-region",
        "cn-hangzhou",
    )
    result, first = run(*args)
    assert result.exit_code == 0, result.output
    assert first["changed"] is True
    get = oss.get_object
    assert (
        get(Bucket="railyard-dev-artifacts", Key=f"releases/dev/{SHA}.apk")["Body"].read() == b"APK"
    )
    latest = json.loads(
        get(Bucket="railyard-dev-artifacts", Key="releases/dev/latest.json")["Body"].read()
    )
    assert (latest["apk"], latest["feature"]) == (f"releases/dev/{SHA}.apk", "PROJ-123")
    result, again = run(*args)
    assert again["changed"] is False
    result, error = run(*args[:2], "--apk", "s3://x/y.apk", *args[4:])
    assert result.exit_code == 2
    assert "expected oss://<bucket>/apks/" in error["error"]
