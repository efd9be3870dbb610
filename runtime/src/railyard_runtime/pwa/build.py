"""A PWA build on disk: every file with its content hash and the Cache-Control it gets.

What gets uploaded is served to the world, so the folder is read defensively: only regular
files that are really inside it (no symbolic link, FIFO, device or socket, whatever it points
to), under names that are safe as object keys and URLs, outside the bucket's own ``releases/``
records. Every check runs on the whole folder before a single file is opened or uploaded.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from railyard_runtime import cache_rules
from railyard_runtime.errors import BadInput
from railyard_runtime.pwa import release as rel

REQUIRED = ("/sw.js", "/index.html")
# Upload order of the entrypoints, last: sw.js. A browser that sees a new service worker
# installs it at once and fetches what the manifest and index name, which are already there.
ENTRYPOINT_ORDER = ("/asset-manifest.json", "/index.html", "/sw.js")
MAX_KEY_BYTES = 1024  # S3's and OSS's limit on an object key
SHOWN_PROBLEMS = 10
# Control characters (newline, tab, DEL, C1), invisible format characters (bidi overrides,
# zero-width) and line/paragraph separators: they make keys that logs, URLs and eyes misread.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".mjs")


@dataclass(frozen=True)
class BuildFile:
    key: str
    """Object key: the URL path without its leading slash (``assets/app.3f9a.js``)."""
    source: Path
    sha256: str
    size: int
    content_type: str
    cache_control: str
    identity: tuple[int, int] | None = None
    """(device, inode) the scan saw; the file opened for upload must still be that one."""

    @property
    def path(self) -> str:
        return "/" + self.key

    @property
    def is_entrypoint(self) -> bool:
        return self.path in cache_rules.ENTRYPOINTS

    def open(self) -> BinaryIO:
        return open_regular(self.source, self.identity)


def open_regular(path: Path, identity: tuple[int, int] | None = None) -> BinaryIO:
    """Open ``path`` for reading only if it is (still) a regular file, never through a link.

    O_NOFOLLOW refuses a link put in place after the scan; O_NONBLOCK keeps a FIFO from
    blocking the open; the inode check catches a file swapped through a parent folder.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise BadInput(f"DIST file {str(path)!r} cannot be read ({e.strerror}): {_CHANGED}") from e
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (identity and identity != (st.st_dev, st.st_ino)):
        os.close(fd)
        raise BadInput(f"DIST file {str(path)!r} is no longer the file scanned: {_CHANGED}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


_CHANGED = "the build folder changed during the publish; publish it again once the build is done"


def sha256_of(path: Path, identity: tuple[int, int] | None = None) -> tuple[str, int]:
    """(SHA-256, size) of the bytes read: the size recorded is the size hashed."""
    digest, size = hashlib.sha256(), 0
    with open_regular(path, identity) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def rules_for(hashed_asset_paths: Sequence[str], hashed_ttl: int, default_ttl: int):
    for pattern in hashed_asset_paths:
        if why := cache_rules.pattern_problem(pattern):
            raise BadInput(f"--hashed-path: {why} (the stack's railyard:pwaHashedAssetPaths)")
    return cache_rules.pwa_cache_rules(hashed_asset_paths, hashed_ttl), cache_rules.default_rule(
        default_ttl
    )


def name_problem(name: str) -> str | None:
    """Why one path segment cannot be part of an object key / URL path, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os functions hand undecodable bytes back as lone surrogates
        return "is not valid UTF-8: rename it with UTF-8 characters only"
    unsafe = sorted({c for c in name if unicodedata.category(c) in _UNSAFE_CATEGORIES})
    if unsafe:
        shown = ", ".join(f"U+{ord(c):04X}" for c in unsafe)
        return f"contains control or invisible characters ({shown}): rename it without them"
    if name in (".", "..") or "\\" in name:
        return "has a '..', '.' or '\\' segment that URLs and CDNs resolve elsewhere: rename it"
    return None


def _shown(key: str) -> str:
    """The key as the message shows it: escapes for control characters and undecodable bytes."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return repr(os.fsencode(key))[1:]
    return repr(key)


@dataclass(frozen=True)
class _Found:
    key: str
    source: Path
    identity: tuple[int, int]


def _walk(dist: Path) -> list[_Found]:
    """Every regular file under ``dist`` (lstat only: nothing opened), or BadInput naming
    every entry that cannot be published."""
    top = os.path.realpath(dist)  # DIST itself may be a link; nothing under it may
    problems: list[str] = []
    found: list[_Found] = []

    def unreadable(error: OSError) -> None:
        raise BadInput(f"DIST {str(dist)!r}: cannot list {error.filename!r} ({error.strerror})")

    for dirpath, dirnames, filenames, dirfd in os.fwalk(
        top, follow_symlinks=False, onerror=unreadable
    ):
        rel_dir = os.path.relpath(dirpath, top)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in sorted(dirnames + filenames):
            key = prefix + name
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            problem = name_problem(name)
            if problem is None and stat.S_ISLNK(st.st_mode):
                target = os.readlink(name, dir_fd=dirfd)
                problem = (
                    f"is a symbolic link (to {_shown(target)}): publish reads only regular files "
                    "inside DIST; copy the real file in its place (cp -L) or delete the link"
                )
            elif problem is None and stat.S_ISDIR(st.st_mode) and key + "/" == rel.PREFIX:
                problem = (
                    f"is the folder {rel.PREFIX!r}, which holds the bucket's release records and "
                    "rollback copies: rename it (and the URLs that name it) in the build"
                )
            elif problem is None and not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                problem = (
                    "is not a regular file (a FIFO, socket or device): publish reads only "
                    "regular files; remove it from DIST"
                )
            elif problem is None and stat.S_ISREG(st.st_mode):
                if len(key.encode()) > MAX_KEY_BYTES:
                    problem = f"is longer than {MAX_KEY_BYTES} bytes, the object key limit"
                elif st.st_size == 0 and "/" + key in REQUIRED:
                    problem = (
                        "is empty: a 0-byte entrypoint would blank the site (or its service "
                        "worker) for every user; check the build step that writes it"
                    )
            if problem:
                problems.append(f"{_shown(key)} {problem}")
                if name in dirnames:
                    dirnames.remove(name)  # reported once, not once per file inside
            elif stat.S_ISREG(st.st_mode):
                identity = (st.st_dev, st.st_ino)
                found.append(_Found(key, dist / key, identity))
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        listed = "\n".join(f"  - {p}" for p in problems[:SHOWN_PROBLEMS])
        raise BadInput(
            f"DIST {str(dist)!r}: {len(problems)} entr{'y' if len(problems) == 1 else 'ies'} "
            f"cannot be published (nothing was uploaded):\n{listed}"
            + (f"\n  - and {more} more" if more > 0 else "")
        )
    return found


def scan(
    dist: Path,
    hashed_asset_paths: Sequence[str] = cache_rules.DEFAULT_HASHED_ASSET_PATHS,
    hashed_ttl: int = cache_rules.ONE_YEAR,
    default_ttl: int = cache_rules.DEFAULT_TTL_SECONDS,
) -> list[BuildFile]:
    """Every file of ``dist``: assets first (sorted), the entrypoints last in upload order."""
    if not dist.is_dir():
        raise BadInput(f"DIST {str(dist)!r} is not a folder: pass the PWA's build output folder")
    rules, default = rules_for(hashed_asset_paths, hashed_ttl, default_ttl)
    found = sorted(_walk(dist), key=lambda f: f.key)
    present = {"/" + f.key for f in found}
    missing = [p for p in REQUIRED if p not in present]
    if missing:
        raise BadInput(
            f"DIST {str(dist)!r} has no {', '.join(missing)}: a PWA build needs a stable "
            "/sw.js and /index.html at its root"
        )
    files = []
    for f in found:
        content_type = mimetypes.guess_type(f.key)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
            content_type += "; charset=utf-8"
        sha256, size = sha256_of(f.source, f.identity)
        files.append(
            BuildFile(
                key=f.key,
                source=f.source,
                sha256=sha256,
                size=size,
                content_type=content_type,
                cache_control=cache_rules.cache_control_for("/" + f.key, rules, default),
                identity=f.identity,
            )
        )
    assets = [f for f in files if not f.is_entrypoint]
    entrypoints = sorted(
        (f for f in files if f.is_entrypoint), key=lambda f: ENTRYPOINT_ORDER.index(f.path)
    )
    return assets + entrypoints
