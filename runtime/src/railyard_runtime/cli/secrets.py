"""Tokens reach the steps as mounted files (Kubernetes Secrets), never as arguments."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from railyard_runtime.errors import BadInput

MAX_TOKEN_BYTES = 64 * 1024  # a token is a few hundred bytes; a JWT a few KiB

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``, else BadInput
    naming ``what`` (the option). Never blocks: a FIFO is refused before it is opened."""
    where = f"{what} {str(path)[:200]!r}"

    def refuse(problem: str) -> BadInput:
        return BadInput(f"{where}: {problem}. Fix: give the path of the mounted secret file")

    try:
        kind = _not_regular(os.stat(path).st_mode)  # stat: opening a FIFO blocks for a writer
        if kind:
            raise refuse(f"is {kind}, not a regular file")
        # O_NONBLOCK: a path swapped for a FIFO after the stat does not block the open either
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise refuse(f"cannot read it ({e.strerror})") from None
    try:
        kind = _not_regular(os.fstat(fd).st_mode)
        if kind:
            raise refuse(f"is {kind}, not a regular file")
        chunks, size = [], 0
        while size <= max_bytes:  # one byte past the limit tells a file that is too large
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise refuse(f"cannot read it ({e.strerror})") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise refuse(f"is larger than {max_bytes:,} bytes")
    return b"".join(chunks)


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
