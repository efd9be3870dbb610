"""The images of a release manifest (``releases/*.yaml``, seed 002) and the tags they get.

Only what ``images promote --manifest`` needs: the environment's ``destinationTagPrefix`` and
every product's ``images`` (``repoName``, ``sourceTag``). Other fields are left to the
release-train schema.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from railyard_runtime.errors import BadInput
from railyard_runtime.images import target_tag


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ImageEntry(_Loose):
    repo_name: str = Field(alias="repoName", min_length=1)
    source_tag: str = Field(alias="sourceTag", min_length=1)


class Product(_Loose):
    name: str
    images: list[ImageEntry] = []


class Environment(_Loose):
    name: str
    destination_tag_prefix: str = Field(alias="destinationTagPrefix", min_length=1)


class ManifestImages(_Loose):
    environment: Environment
    products: list[Product]


def moves(path: Path) -> list[tuple[str, str, str]]:
    """(repository, source tag, target tag) of every image in the manifest, in order."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as e:
        raise BadInput(f"--manifest {str(path)!r}: cannot read it ({e.strerror})") from e
    except yaml.YAMLError as e:
        raise BadInput(f"--manifest {str(path)!r}: not valid YAML ({e})") from e
    try:
        manifest = ManifestImages.model_validate(document)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"--manifest {str(path)!r}: {where}: {first['msg']}") from e
    prefix = manifest.environment.destination_tag_prefix
    found = [
        (image.repo_name, image.source_tag, target_tag(image.source_tag, prefix))
        for product in manifest.products
        for image in product.images
    ]
    repos = [repo for repo, _, _ in found]
    duplicates = sorted({r for r in repos if repos.count(r) > 1})
    if duplicates:
        raise BadInput(f"--manifest {str(path)!r}: images list {duplicates} more than once")
    return found
