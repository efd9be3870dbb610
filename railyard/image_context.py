"""What goes into the steps image, and the tag that names that content.

ECR repositories are tag-immutable, so the tag must change exactly when the image would: it
is the runtime version plus a hash over the files the Dockerfile copies.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

INPUTS = ("Dockerfile", "requirements.txt", "pyproject.toml", "src")
SKIPPED_PARTS = ("__pycache__", ".egg-info")


def context_files(root: Path) -> list[Path]:
    """Every file the image is built from, in a stable order."""
    files: list[Path] = []
    for name in INPUTS:
        path = root / name
        if not path.exists():
            raise FileNotFoundError(f"{path}: the steps image is built from it")
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [
            p
            for p in candidates
            if p.is_file() and not any(s in part for part in p.parts for s in SKIPPED_PARTS)
        ]
    return files


def content_tag(root: Path, version: str) -> str:
    """``<version>-<12 hex>``: same files, same tag; any change, a new one."""
    digest = hashlib.sha256()
    for path in context_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{version}-{digest.hexdigest()[:12]}"
