"""The release train's job types (seed 002): Lambda code, S3 content, API Gateway Swagger.

Each job deploys one repository checked out at the manifest's commit (the job template mounts
it with Argo's git artifact) and is safe to run again: the seed re-runs a whole release to
make the environment match git, so unchanged artifacts must cost nothing and change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import mimetypes
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, WaiterError

from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.pwa.store import SHA_META, Bucket

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same tree, same zip, same CodeSha256


@dataclass(frozen=True)
class Outcome:
    target: str
    changed: bool
    detail: str


def _existing(path: Path, option: str, directory: bool) -> Path:
    if directory and not path.is_dir():
        raise BadInput(f"{option} {str(path)!r}: not a directory in the checkout")
    if not directory and not path.is_file():
        raise BadInput(f"{option} {str(path)!r}: no such file in the checkout")
    return path


def lambda_zip(source: Path) -> bytes:
    """A deterministic zip of ``source``: sorted entries, fixed times, modes kept."""
    _existing(source, "--source", directory=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = path.relative_to(source)
            if rel.parts[0] == ".git":
                continue
            info = zipfile.ZipInfo(rel.as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy_lambda(client, function_name: str, source: Path) -> Outcome:
    """Update the function's code unless it already runs this exact zip; wait until active."""
    code = lambda_zip(source)
    code_sha = base64.b64encode(hashlib.sha256(code).digest()).decode()
    try:
        current = client.get_function_configuration(FunctionName=function_name)
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            raise StepError(
                f"Lambda function {function_name!r} does not exist: create it with its "
                "infrastructure first (the release train deploys code, not functions)"
            ) from e
        raise
    if current.get("CodeSha256") == code_sha:
        return Outcome(function_name, False, f"already runs {code_sha}")
    answer = client.update_function_code(FunctionName=function_name, ZipFile=code, Publish=True)
    try:
        client.get_waiter("function_updated_v2").wait(
            FunctionName=function_name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )
    except WaiterError as e:
        raise StepError(f"Lambda function {function_name!r}: update did not finish ({e})") from e
    return Outcome(function_name, True, f"version {answer.get('Version')} ({code_sha})")


def deploy_s3(client, bucket: str, prefix: str, source: Path, workers: int = 16) -> Outcome:
    """Upload every file of ``source`` under ``prefix``; files with the same hash are skipped.

    Nothing is deleted: earlier releases may still reference their files.
    """
    _existing(source, "--source", directory=True)
    files = sorted(p for p in source.rglob("*") if p.is_file() and ".git" not in p.parts)
    target = Bucket(client, bucket)

    def upload(path: Path) -> bool:
        key = prefix + path.relative_to(source).as_posix()
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()
        if target.sha256(key) == digest:
            return False
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata={SHA_META: digest},
        )
        return True

    with ThreadPoolExecutor(max_workers=workers) as pool:
        changed = sum(pool.map(upload, files))
    return Outcome(
        f"s3://{bucket}/{prefix}", changed > 0, f"{changed} of {len(files)} files uploaded"
    )


def deploy_apigw(client, rest_api_id: str, stage: str, swagger: Path, description: str) -> Outcome:
    """Overwrite the REST API from its Swagger/OpenAPI file and deploy it to ``stage``.

    Re-running deploys the same definition again: a new deployment with identical content.
    """
    body = _existing(swagger, "--source", directory=False).read_bytes()
    try:
        client.put_rest_api(restApiId=rest_api_id, mode="overwrite", failOnWarnings=True, body=body)
        deployment = client.create_deployment(
            restApiId=rest_api_id, stageName=stage, description=description[:1024]
        )
    except ClientError as e:
        if e.response["Error"]["Code"] in ("NotFoundException", "BadRequestException"):
            # a missing API, or a definition API Gateway will not import or deploy
            raise StepError(f"REST API {rest_api_id!r} from {swagger}: {e}") from e
        raise
    return Outcome(f"{rest_api_id}/{stage}", True, f"deployment {deployment['id']}")
