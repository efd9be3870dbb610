"""Reading a file someone else chose, without blocking and within a size.

A path given on the command line or in a setting may be a FIFO (an open for reading waits for
a writer forever), a device (``/dev/zero`` never ends) or far larger than it should be. So the
type is checked with ``stat`` before opening, the open is non-blocking in case the path was
swapped since, the open file is checked again, and at most one byte more than the limit is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class FileRefused(Exception):
    """``problem`` says why (``is a FIFO (named pipe), not a regular file``, ...); ``size`` is
    set when the file is larger than the limit."""

    def __init__(self, problem: str, size: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.size = size


def kind(mode: int) -> str:
    """What a non-regular file is, for a message (``a FIFO (named pipe)``)."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise FileRefused(f"is {kind(mode)}, not a regular file")


def read_regular(path: Path | str, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else FileRefused."""
    try:
        info = os.stat(path)  # stat, not open: opening a FIFO to read blocks until a writer
        _regular(info.st_mode)
        if info.st_size > max_bytes:
            raise FileRefused(f"is larger than {max_bytes:,} bytes", info.st_size)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise FileRefused(f"cannot read it ({e.strerror})") from None
    try:
        _regular(os.fstat(fd).st_mode)
        chunks, size = [], 0
        while size <= max_bytes:  # the file may grow after the stat: read one byte past
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise FileRefused(f"cannot read it ({e.strerror})") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise FileRefused(f"is larger than {max_bytes:,} bytes", size)
    return b"".join(chunks)
