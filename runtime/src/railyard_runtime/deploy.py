"""The release train's job types: Lambda code, S3 content, API Gateway Swagger.

Each job deploys one repository checked out at the manifest's commit (the job template mounts
it with Argo's git artifact) and is safe to run again: the release train re-runs a whole manifest to
make the environment match git, so unchanged artifacts must cost nothing and change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import mimetypes
import os
import stat
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from botocore.exceptions import ClientError, WaiterError

from railyard_runtime import files
from railyard_runtime.errors import BadInput, StepError
from railyard_runtime.pwa.build import MAX_KEY_BYTES, name_problem
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


def _shown(name: str) -> str:
    """A name as messages show it: escapes for control characters and undecodable bytes."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os functions hand undecodable bytes back as lone surrogates
        return repr(os.fsencode(name))[1:]
    return repr(name)


def _in_checkout(path: Path, option: str, checkout: Path | None) -> Path:
    """``path`` with links resolved; with ``checkout``, it must resolve inside it (the
    repository decides what ``path`` is, and a link out of it would ship the host's files)."""
    real = path.resolve()
    if checkout is not None and not real.is_relative_to(checkout.resolve()):
        raise BadInput(
            f"{option} {str(path)!r} resolves to {str(real)!r}, outside the checkout "
            f"{str(checkout)!r}; nothing was deployed. Fix: deploy a "
            f"{'folder' if real.is_dir() else 'file'} of the repository, not a link out of it"
        )
    return real


@dataclass(frozen=True)
class _File:
    name: PurePosixPath  # relative to the folder: the zip entry or the key after the prefix
    real: Path  # symlinks resolved (inside the folder)


def _files(
    folder: Path,
    skip: Callable[[PurePosixPath], bool],
    option: str = "--source",
    checkout: Path | None = None,
) -> list[_File]:
    """Every regular file under ``folder``, sorted, before any is read.

    The checked-out repository decides what is in the folder, so it is not trusted: a symlink
    is followed only when it resolves inside the folder (one to /etc or ../.. refuses the
    whole deploy), and a FIFO, socket or device refuses it too (reading one blocks or never
    ends). Symlinked directories are not descended, as before. With ``checkout``, the folder
    itself must resolve inside it (``dist`` may be a symlink in the repository).

    Names get the checks the PWA build applies (UTF-8, no control characters, no '..' or
    '\\'), since each becomes a zip entry or an object key; a sub-folder that cannot be
    listed refuses the deploy rather than shipping the rest as if it were all.
    """
    _existing(folder, option, directory=True)
    root = _in_checkout(folder, option, checkout)

    def unreadable(error: OSError) -> None:
        raise BadInput(
            f"{option} {str(folder)!r}: cannot list {_shown(str(error.filename))} "
            f"({error.strerror}); nothing was deployed. Fix: make it readable, or remove it"
        )

    found: list[_File] = []
    # does not follow symlinked dirs
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        for entry in [*dirnames, *filenames]:
            path = here / entry
            name = PurePosixPath(path.relative_to(root).as_posix())
            if skip(name):
                if entry in dirnames:
                    dirnames.remove(entry)
                continue
            if problem := name_problem(entry):
                raise BadInput(
                    f"{option} {str(folder)!r}: {_shown(name.as_posix())} {problem}; "
                    "nothing was deployed"
                )
            real, mode = path, path.lstat().st_mode
            if stat.S_ISLNK(mode):
                try:
                    real = path.resolve()
                except RuntimeError:
                    continue  # a symlink loop names no file: skipped, like a dangling link
                if not real.is_relative_to(root):
                    raise BadInput(
                        f"{option} {str(folder)!r}: {name} is a symlink to {str(real)!r}, "
                        "outside the folder; nothing was deployed. "
                        "Fix: remove the link, or copy the file into the folder"
                    )
                try:
                    mode = real.stat().st_mode
                except OSError:
                    continue  # a dangling link names no file: skipped, as before
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise BadInput(
                    f"{option} {str(folder)!r}: {name} is {files.kind(mode)}, not a regular file; "
                    "nothing was deployed. Fix: remove it from the folder"
                )
            found.append(_File(name, real))
    return sorted(found, key=lambda f: f.name.parts)


def _read(path: Path, option: str = "--source") -> tuple[bytes, int]:
    """The bytes and mode of a regular file; a path swapped for a FIFO or a link since it
    was listed is refused, not waited on."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise BadInput(f"{option}: cannot read {str(path)!r} ({e.strerror})") from e
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise BadInput(f"{option}: {str(path)!r} is {files.kind(mode)}, not a regular file")
        return file.read(), mode


def lambda_zip(source: Path, checkout: Path | None = None) -> bytes:
    """A deterministic zip of ``source``: sorted entries, fixed times, modes kept."""
    entries = _files(source, lambda name: name.parts[0] == ".git", checkout=checkout)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in entries:
            body, mode = _read(file.real)
            info = zipfile.ZipInfo(file.name.as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = (mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, body)
    return buffer.getvalue()


def deploy_lambda(
    client, function_name: str, source: Path, checkout: Path | None = None
) -> Outcome:
    """Update the function's code unless it already runs this exact zip; wait until active."""
    code = lambda_zip(source, checkout)
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


def deploy_s3(
    client,
    bucket: str,
    prefix: str,
    source: Path,
    workers: int = 16,
    checkout: Path | None = None,
) -> Outcome:
    """Upload every file of ``source`` under ``prefix``; files with the same hash are skipped.

    Only regular files inside ``source`` are read (see :func:`_files`), and all of them are
    listed and checked before the first upload. Nothing is deleted: earlier releases may
    still reference their files.
    """
    entries = _files(source, lambda name: ".git" in name.parts, checkout=checkout)
    for file in entries:
        key = prefix + file.name.as_posix()
        if len(key.encode()) > MAX_KEY_BYTES:
            raise BadInput(
                f"--source {str(source)!r}: {key!r} is longer than {MAX_KEY_BYTES} bytes, the "
                "object key limit; nothing was deployed. Fix: shorten the name or --prefix"
            )
    # every call through the store's wrapper: a missing bucket names --bucket (exit 2), a
    # refusal is a StepError (exit 1), an endpoint that does not answer Unreachable (exit 3)
    target = Bucket(client, bucket, "--bucket")

    def upload(file: _File) -> bool:
        key = prefix + file.name.as_posix()
        body, _ = _read(file.real)
        digest = hashlib.sha256(body).hexdigest()
        if target.sha256(key) == digest:
            return False
        content_type = mimetypes.guess_type(file.name.name)[0] or "application/octet-stream"
        with target._calling(f"PUT {key}"):  # Bucket.put would add a Cache-Control header
            client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata={SHA_META: digest},
            )
        return True

    with ThreadPoolExecutor(max_workers=workers) as pool:
        changed = sum(pool.map(upload, entries))
    return Outcome(
        f"s3://{bucket}/{prefix}", changed > 0, f"{changed} of {len(entries)} files uploaded"
    )


def deploy_apigw(
    client,
    rest_api_id: str,
    stage: str,
    swagger: Path,
    description: str,
    checkout: Path | None = None,
) -> Outcome:
    """Overwrite the REST API from its Swagger/OpenAPI file and deploy it to ``stage``.

    Re-running deploys the same definition again: a new deployment with identical content.
    With ``checkout``, the file must resolve inside it: a link out would send the host's file.
    """
    _existing(swagger, "--source", directory=False)
    body, _ = _read(_in_checkout(swagger, "--source", checkout))
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
