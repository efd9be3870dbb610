"""Image vulnerability gate: ECR scan findings of the release's images.

Basic and enhanced (Inspector) scanning both report ``findingSeverityCounts``; a scan still
running is waited for, a missing or failed scan blocks (an unscanned image is not a clean one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from railyard_runtime.errors import BadInput, DeadlineExceeded, StepError

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
_DONE = {"COMPLETE", "ACTIVE"}  # basic scanning / enhanced scanning
_RUNNING = {"IN_PROGRESS", "PENDING"}


@dataclass(frozen=True)
class ImageVerdict:
    image: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    blocking: int = 0


def parse_image(ref: str) -> tuple[str, str]:
    repo, sep, tag = ref.rpartition(":")
    if not sep or not repo or not tag or "/" in tag:
        raise BadInput(f"--image {ref!r}: expected <ecr repository>:<tag>, e.g. backend/api:<sha>")
    return repo, tag


def parse_block(value: str) -> tuple[str, ...]:
    levels = tuple(s.strip().upper() for s in value.split(",") if s.strip())
    unknown = [s for s in levels if s not in SEVERITIES]
    if unknown or not levels:
        raise BadInput(f"--block {value!r}: use severities from {', '.join(SEVERITIES)}")
    return levels


def scan_images(
    ecr,
    images: Sequence[str],
    block: Sequence[str],
    deadline_seconds: float,
    poll_seconds: float = 10,
    on_wait: Callable[[str], None] = lambda _: None,
) -> list[ImageVerdict]:
    give_up = time.monotonic() + deadline_seconds
    verdicts = []
    for ref in images:
        repo, tag = parse_image(ref)
        while True:
            try:
                found = ecr.describe_image_scan_findings(
                    repositoryName=repo, imageId={"imageTag": tag}, maxResults=1
                )
            except ClientError as e:
                code = e.response["Error"]["Code"]
                if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                    raise StepError(f"{ref}: no such image in ECR ({code})") from e
                if code == "ScanNotFoundException":
                    raise StepError(
                        f"{ref}: never scanned; turn on scan-on-push (the stack does for its "
                        "repositories) or start a scan"
                    ) from e
                raise
            status = found["imageScanStatus"]["status"]
            if status not in _RUNNING:
                break
            if time.monotonic() >= give_up:
                raise DeadlineExceeded(f"{ref}: scan still {status} at the deadline")
            on_wait(f"{ref}: scan {status}, waiting")
            time.sleep(poll_seconds)
        counts = found.get("imageScanFindings", {}).get("findingSeverityCounts", {})
        if status not in _DONE:
            verdicts.append(ImageVerdict(ref, status, counts, blocking=-1))
            continue
        verdicts.append(ImageVerdict(ref, status, counts, sum(counts.get(s, 0) for s in block)))
    return verdicts
