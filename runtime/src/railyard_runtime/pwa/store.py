"""One bucket behind an S3 API (S3 itself, or OSS through its S3-compatible API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from pydantic import BaseModel

from railyard_runtime.errors import StepError
from railyard_runtime.pwa.build import BuildFile

# One thread per file, many files at a time: the publisher parallelises across files.
MULTIPART_FROM = 64 << 20
_TRANSFER = TransferConfig(use_threads=False, multipart_threshold=MULTIPART_FROM)
M = TypeVar("M", bound=BaseModel)
SHA_META = "sha256"  # x-amz-meta-sha256 (OSS keeps it as x-oss-meta-sha256)


class Bucket:
    def __init__(self, client, name: str):
        self.client = client
        self.name = name

    def sizes(self, prefix: str = "") -> dict[str, int]:
        """Every key under ``prefix`` with its size: one listing instead of a HEAD per file."""
        sizes = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        ):
            sizes.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return sizes

    def sha256(self, key: str) -> str | None:
        head = _unless_missing(lambda: self.client.head_object(Bucket=self.name, Key=key))
        return head and head.get("Metadata", {}).get(SHA_META)

    def upload(self, f: BuildFile, on_bytes: Callable[[int], None] | None = None) -> None:
        if f.size < MULTIPART_FROM:  # one PUT; the transfer manager costs more than it saves
            with f.source.open("rb") as body:
                self.put(f.key, body, f.content_type, f.cache_control, f.sha256)
            if on_bytes:
                on_bytes(f.size)
            return
        self.client.upload_file(
            str(f.source),
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
        found = _unless_missing(lambda: self.client.get_object(Bucket=self.name, Key=key))
        return found and found["Body"].read()

    def get_model(self, key: str, model: type[M]) -> M | None:
        data = self.get(key)
        return model.model_validate_json(data) if data is not None else None

    def put_model(self, key: str, value: BaseModel) -> None:
        body = value.model_dump_json(by_alias=True, indent=2).encode()
        # records are read by the pipeline only: never cached anywhere
        self.client.put_object(
            Bucket=self.name,
            Key=key,
            Body=body,
            ContentType="application/json",
            CacheControl="no-store",
        )


def _unless_missing(call: Callable[[], dict]) -> dict | None:
    """The answer of ``call``, or None where the object does not exist."""
    try:
        return call()
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
