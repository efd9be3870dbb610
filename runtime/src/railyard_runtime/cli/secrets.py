"""Tokens reach the steps as mounted files (Kubernetes Secrets), never as arguments."""

from __future__ import annotations

from pathlib import Path

from railyard_runtime.errors import BadInput


def read_token(path: Path, option: str) -> str:
    try:
        token = path.read_text().strip()
    except OSError as e:
        raise BadInput(f"{option} {str(path)!r}: cannot read it ({e.strerror})") from e
    if not token:
        raise BadInput(f"{option} {str(path)!r}: the file is empty")
    return token
