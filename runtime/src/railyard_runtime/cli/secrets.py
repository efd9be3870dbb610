"""Tokens reach the steps as mounted files (Kubernetes Secrets), never as arguments."""

from __future__ import annotations

from pathlib import Path

from railyard_runtime import files
from railyard_runtime.errors import BadInput

MAX_TOKEN_BYTES = 64 * 1024  # a token is a few hundred bytes; a JWT a few KiB


def read_regular(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``, else BadInput
    naming ``what`` (the option). Never blocks: a FIFO is refused before it is opened."""
    try:
        return files.read_regular(path, max_bytes)
    except files.FileRefused as e:
        raise BadInput(
            f"{what} {str(path)[:200]!r}: {e.problem}. Fix: give the path of the mounted "
            "secret file"
        ) from None


def read_token(path: Path, option: str) -> str:
    data = read_regular(path, MAX_TOKEN_BYTES, option)
    where = f"{option} {str(path)[:200]!r}"
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadInput(
            f"{where}: not UTF-8 text, so not a token. Fix: write the token alone, as text"
        ) from None
    if not token:
        raise BadInput(f"{where}: the file is empty. Fix: write the token into it")
    # it goes into an HTTP header: one line of visible ASCII, or the request itself would fail
    if not (token.isascii() and token.isprintable()) or any(c.isspace() for c in token):
        raise BadInput(
            f"{where}: holds spaces, line breaks or characters a token does not have. "
            "Fix: write the token alone, on one line"
        )
    return token
