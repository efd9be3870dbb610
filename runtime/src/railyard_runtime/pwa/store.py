"""One bucket behind an S3 API (S3 itself, or OSS through its S3-compatible API).

Every call answers with the data or a ``StepError`` that names the bucket, the operation and
what to do: a missing bucket is bad input (exit 2), a refusal fails the step (exit 1), an
endpoint out of reach is exit 3. Callers never see a botocore exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from pydantic import BaseModel

from railyard_runtime.errors import BadInput, StepError, Unreachable
from railyard_runtime.pwa.build import BuildFile

# One thread per file, many files at a time: the publisher parallelises across files.
MULTIPART_FROM = 64 << 20
_TRANSFER = TransferConfig(use_threads=False, multipart_threshold=MULTIPART_FROM)
M = TypeVar("M", bound=BaseModel)
SHA_META = "sha256"  # x-amz-meta-sha256 (OSS keeps it as x-oss-meta-sha256)
_MISSING = ("404", "NoSuchKey", "NotFound")
_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)


@dataclass(frozen=True)
class Saved:
    """An object as it was (or its absence), to put back exactly after a failed switch."""

    key: str
    body: bytes | None
    etag: str | None = None
    content_type: str = "application/octet-stream"
    cache_control: str | None = None
    metadata: dict[str, str] | None = None


class Bucket:
    def __init__(self, client, name: str, option: str = "bucket"):
        self.client = client
        self.name = name
        self.option = option
        """The option that named the bucket (``--s3-bucket``), for messages."""

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn whatever the SDK raises for ``what`` into a StepError saying so."""
        where = f"{self.option} {self.name!r}"
        try:
            yield
        except StepError:
            raise
        except ClientError as e:
            error = e.response.get("Error", {})
            code = error.get("Code", "?")
            detail = f"{code}: {error['Message']}" if error.get("Message") else code
            if code == "NoSuchBucket" or (what == "check the bucket" and code in _MISSING):
                raise BadInput(
                    f"{where}: no such bucket: fix {self.option} (the stack output names it) "
                    "or create the bucket with the stack"
                ) from e
            if code in ("AccessDenied", "403", "Forbidden") or code.startswith("InvalidAccessKey"):
                raise StepError(
                    f"{where}: {what} was refused ({detail}): the publishing role needs read "
                    "and write access to the bucket"
                ) from e
            raise StepError(f"{where}: {what} failed ({detail})") from e
        except _UNREACHABLE as e:
            raise Unreachable(f"{where}: {what}: the endpoint did not answer ({e})") from e
        except (ConnectionClosedError, S3UploadFailedError) as e:
            raise StepError(f"{where}: {what} failed ({e})") from e
        except NoCredentialsError as e:
            raise BadInput(f"{where}: {what}: no credentials ({e})") from e
        except BotoCoreError as e:
            raise StepError(f"{where}: {what} failed ({e})") from e

    def check(self) -> None:
        """Does the bucket exist and may we list it? (BadInput / StepError / Unreachable)"""
        with self._calling("check the bucket"):
            self.client.head_bucket(Bucket=self.name)

    def sizes(self, prefix: str = "") -> dict[str, int]:
        """Every key under ``prefix`` with its size: one listing instead of a HEAD per file."""
        sizes = {}
        with self._calling(f"list {prefix or 'the objects'}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            ):
                sizes.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return sizes

    def _head(self, key: str) -> dict | None:
        with self._calling(f"HEAD {key}"):
            return _unless_missing(lambda: self.client.head_object(Bucket=self.name, Key=key))

    def sha256(self, key: str) -> str | None:
        head = self._head(key)
        return head and head.get("Metadata", {}).get(SHA_META)

    def upload(self, f: BuildFile, on_bytes: Callable[[int], None] | None = None) -> None:
        with f.open() as body, self._calling(f"PUT {f.key}"):
            if f.size < MULTIPART_FROM:  # one PUT; the transfer manager costs more than it saves
                self.client.put_object(
                    Bucket=self.name,
                    Key=f.key,
                    Body=body,
                    ContentType=f.content_type,
                    CacheControl=f.cache_control,
                    Metadata={SHA_META: f.sha256},
                )
                if on_bytes:
                    on_bytes(f.size)
                return
            self.client.upload_fileobj(
                body,
                self.name,
                f.key,
                ExtraArgs={
                    "ContentType": f.content_type,
                    "CacheControl": f.cache_control,
                    "Metadata": {SHA_META: f.sha256},
                },
                Callback=on_bytes,
                Config=_TRANSFER,
            )

    def put(self, key: str, body, content_type: str, cache_control: str, sha256: str) -> None:
        with self._calling(f"PUT {key}"):
            self.client.put_object(
                Bucket=self.name,
                Key=key,
                Body=body,
                ContentType=content_type,
                CacheControl=cache_control,
                Metadata={SHA_META: sha256},
            )

    def copy(self, source_key: str, key: str) -> None:
        """Server-side copy; content type, cache control and hash travel with the object."""
        with self._calling(f"copy {source_key} to {key}"):
            self.client.copy_object(
                Bucket=self.name,
                Key=key,
                CopySource={"Bucket": self.name, "Key": source_key},
                MetadataDirective="COPY",
            )

    def delete(self, keys: list[str]) -> None:
        """Delete up to 1,000 keys in one request; a key already gone is not an error."""
        if not keys:
            return
        with self._calling(f"delete {len(keys)} objects"):
            answer = self.client.delete_objects(
                Bucket=self.name, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise StepError(
                f"{self.name}: {len(answer['Errors'])} objects not deleted "
                f"(first {first['Key']}: {first['Code']})"
            )

    def get(self, key: str) -> bytes | None:
        with self._calling(f"GET {key}"):
            found = _unless_missing(lambda: self.client.get_object(Bucket=self.name, Key=key))
            return found and found["Body"].read()

    def get_model(self, key: str, model: type[M]) -> M | None:
        data = self.get(key)
        return None if data is None else self.parse_model(key, data, model)

    def parse_model(self, key: str, data: bytes, model: type[M]) -> M:
        """``data``, read from ``key``, as a ``model`` record, or a StepError naming the key."""
        try:
            return model.model_validate_json(data)
        except ValueError as e:
            raise StepError(
                f"{self.option} {self.name!r}: {key} is not a valid {model.__name__} record "
                f"({str(e).splitlines()[0]}): restore it from the bucket's versions or delete it"
            ) from e

    def put_model(self, key: str, value: BaseModel) -> None:
        body = value.model_dump_json(by_alias=True, indent=2).encode()
        # records are read by the pipeline only: never cached anywhere
        with self._calling(f"PUT {key}"):
            self.client.put_object(
                Bucket=self.name,
                Key=key,
                Body=body,
                ContentType="application/json",
                CacheControl="no-store",
            )

    def save(self, key: str) -> Saved:
        """The object at ``key`` now (bytes and headers), for ``restore``."""
        with self._calling(f"GET {key}"):
            found = _unless_missing(lambda: self.client.get_object(Bucket=self.name, Key=key))
            if found is None:
                return Saved(key, None)
            return Saved(
                key,
                found["Body"].read(),
                found.get("ETag"),
                found.get("ContentType", "application/octet-stream"),
                found.get("CacheControl"),
                found.get("Metadata") or {},
            )

    def restore(self, saved: Saved) -> bool:
        """Put ``saved`` back (or delete the key if it did not exist); True if it wrote."""
        head = self._head(saved.key)
        if saved.body is None:
            if head is None:
                return False
            self.delete([saved.key])
            return True
        if head is not None and head.get("ETag") == saved.etag:
            return False
        extra = {"CacheControl": saved.cache_control} if saved.cache_control else {}
        with self._calling(f"PUT {saved.key}"):
            self.client.put_object(
                Bucket=self.name,
                Key=saved.key,
                Body=saved.body,
                ContentType=saved.content_type,
                Metadata=saved.metadata or {},
                **extra,
            )
        return True


def _unless_missing(call: Callable[[], dict]) -> dict | None:
    """The answer of ``call``, or None where the object does not exist."""
    try:
        return call()
    except ClientError as e:
        if e.response["Error"]["Code"] in _MISSING:
            return None
        raise
