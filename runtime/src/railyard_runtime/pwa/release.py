"""Release records and the pointers kept in each bucket, under ``releases/``.

- ``releases/<id>.json``: the files of a release with their hashes, its time and predecessor.
- ``releases/<id>/entrypoints/<key>``: a copy of each entrypoint, so a rollback can put the
  exact bytes back (entrypoint keys are overwritten by every publish; hashed assets are not).
- ``releases/live.json``: what the entrypoints serve now, what they served before, which
  command put it there and, under the kill switch, the pointer it replaced.
- ``releases/last-known-good.json``: the release ``pwa verify`` last confirmed on the CDNs; a
  rollback that leaves that release deletes it (not good until verified again).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from railyard_runtime.errors import BadInput

PREFIX = "releases/"
LIVE = f"{PREFIX}live.json"
LAST_KNOWN_GOOD = f"{PREFIX}last-known-good.json"
KILL_SWITCH = "kill-switch"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED = {"live", "last-known-good", KILL_SWITCH}


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class FileRecord(_Model):
    sha256: str
    size: int
    content_type: str
    cache_control: str


class Release(_Model):
    id: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    previous: str | None = None
    files: dict[str, FileRecord]

    def same_files(self, other: Release) -> bool:
        return self.files == other.files


class Pointer(_Model):
    release: str
    previous: str | None = None
    """What was served before ``release``; after a rollback, the release it left."""
    by: Literal["publish", "rollback", "kill-switch"] = "publish"
    """The command that made ``release`` live: a rollback right after a rollback keeps it."""
    replaced: Pointer | None = None
    """Under the kill switch: the pointer it replaced, which a rollback restores exactly."""
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def record_key(release_id: str) -> str:
    return f"{PREFIX}{release_id}.json"


def entrypoint_copy_key(release_id: str, key: str) -> str:
    return f"{PREFIX}{release_id}/entrypoints/{key}"


def check_id(release_id: str, option: str = "--release") -> str:
    if not _ID.match(release_id) or release_id in _RESERVED:
        raise BadInput(
            f"{option} {release_id!r}: use 1-100 characters of letters, digits, '.', '_' or "
            f"'-', starting with a letter or digit, not one of {sorted(_RESERVED)} "
            "(for example the pipeline's run id or the git commit)"
        )
    return release_id
