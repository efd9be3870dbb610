"""The release manifest (``releases/*.yaml``): schema and a loader whose errors carry
line numbers.

One environment block and a list of products; each product lists its ``deployments`` (source
repositories at a commit, deployed by the job template of their ``deployTarget``) and its
``images`` (ECR repositories whose ``dev_N`` tag is promoted to ``<destinationTagPrefix>_N``).
Every problem in a file is reported at once (the first ``MAX_SHOWN``, then how many more),
each as ``FILE:LINE: where: what. Fix: …``. The file is read with :mod:`railyard_runtime.safe_yaml`
(size, depth and value limits; no aliases); every path it names stays inside its repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from railyard_runtime import safe_yaml
from railyard_runtime.errors import BadInput

# Names end up in Kubernetes object names and ECR tags: keep them DNS-label friendly.
Label = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")]
CommitSha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
TagPrefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def _inside(value: str, fix: str, root_ok: bool) -> str:
    """``value`` as a normalised relative path (``./a//b/`` -> ``a/b``) that cannot leave the
    directory it is joined to: absolute paths and ``..`` are refused, not resolved."""
    if value.startswith("/"):
        raise ValueError(f"{value!r} is an absolute path. Fix: {fix}, without the leading '/'")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"{value!r} leaves its repository ('..'). Fix: {fix}, without '..'")
    if not parts and not root_ok:
        raise ValueError(f"{value!r} names no repository. Fix: {fix}")
    return "/".join(parts) or "."


def _key_prefix(value: str) -> str:
    # S3 keys are not paths, but a '..' key is one as soon as it is served or synced
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError(
            f"{value!r} has a '.' or '..' segment. Fix: use plain names, such as app/ or a/b/"
        )
    return value


# Joined to the checkout (/src/<source>) and the git base URL (<base><gitRepoName>).
RepoPath = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]+$"),
    AfterValidator(lambda v: _inside(v, "give the path from the repository's root", True)),
]
RepoName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]{1,100}$"),
    AfterValidator(
        lambda v: _inside(v, "give the repository's name under the git base URL", False)
    ),
]
KeyPrefix = Annotated[
    str, StringConstraints(pattern=r"^([A-Za-z0-9_.\-]+/)*$"), AfterValidator(_key_prefix)
]


class DeployTarget(StrEnum):
    LAMBDA = "lambda"
    S3 = "s3"
    APIGW = "apigw"


# The job template each target runs; ``workflowBase`` names a flavour of it (s3-upload-resources,
# s3-upload-portal, ... all run the one s3 job template).
JOB_TEMPLATE = {
    DeployTarget.LAMBDA: "lambda-job",
    DeployTarget.S3: "s3-upload",
    DeployTarget.APIGW: "api-gw-deploy",
}
IMAGE_JOB_TEMPLATE = "image-promote"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Environment(_Strict):
    name: str = Field(min_length=1, max_length=63)
    short_name: Label = Field(alias="shortName")
    destination_tag_prefix: TagPrefix = Field(alias="destinationTagPrefix")


class Deployment(_Strict):
    git_repo_name: RepoName = Field(alias="gitRepoName")
    git_repo_short_name: Label = Field(alias="gitRepoShortName")
    git_commit: CommitSha = Field(alias="gitCommit")
    workflow_base: str = Field(alias="workflowBase", min_length=1)
    deploy_target: DeployTarget = Field(alias="deployTarget")
    # Where the artifact goes. lambda: function (default <env shortName>-<gitRepoShortName>);
    # s3: bucket (required) and prefix; apigw: REST API id (required) and stage (default
    # the env's shortName). ``source``: the path inside the repository to deploy.
    function_name: str | None = Field(None, alias="functionName", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: KeyPrefix = ""
    rest_api_id: str | None = Field(None, alias="restApiId", pattern=r"^[a-z0-9]{10}$")
    stage: str | None = Field(None, pattern=r"^[A-Za-z0-9_]{1,128}$")
    source: RepoPath | None = None


class Image(_Strict):
    repo_name: str = Field(alias="repoName", pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
    source_tag: str = Field(
        alias="sourceTag", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}_[A-Za-z0-9.-]+$"
    )


class Product(_Strict):
    name: Label
    release_version: str = Field(alias="releaseVersion", pattern=r"^\d+\.\d+\.\d+([-+].+)?$")
    release_candidate: int = Field(alias="releaseCandidate", ge=1)
    deployments: list[Deployment] = []
    images: list[Image] = []


class Manifest(_Strict):
    environment: Environment
    products: list[Product] = Field(min_length=1)


MAX_SHOWN = 50  # problems printed per file; a broken generated file can have 100,000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Problem:
    line: int | None
    where: str
    message: str

    def render(self, path: str) -> str:
        # a field name or quoted value may be as long as the YAML limits allow: cut for print
        at = f"{path}:{self.line}" if self.line else path
        where, message = _cut(self.where, 200), _cut(self.message, 500)
        return f"{at}: {where}: {message}" if where else f"{at}: {message}"


class ManifestError(BadInput):
    """The first problems of a file (``problems``) and how many more there are (``more``)."""

    def __init__(self, path: str, problems: list[Problem], more: int = 0):
        self.path = path
        self.problems = problems
        self.more = more
        lines = [p.render(path) for p in problems]
        if more:
            lines.append(more_line(path, more))
        super().__init__("\n".join(lines))


def more_line(path: str, more: int) -> str:
    return (
        f"{path}: and {more:,} more problem{'s' * (more != 1)} not shown. "
        "Fix: correct the ones above and check again"
    )


class _Lines:
    """Line numbers of ``loc`` paths; each mapping indexed once (a bad file may hold
    100,000 keys in one mapping, and each of them an error)."""

    def __init__(self, root: yaml.Node | None):
        self.root = root
        self.index: dict[int, dict[str, yaml.Node]] = {}

    def __call__(self, loc: tuple[Any, ...]) -> int | None:
        """The line of the deepest node ``loc`` reaches (the parent when the key is missing)."""
        node = self.root
        line = node.start_mark.line + 1 if node else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                keys = self.index.get(id(node))
                if keys is None:
                    keys = self.index[id(node)] = {str(k.value): v for k, v in node.value}
                found = keys.get(str(part))
                if found is None:
                    return line
                node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
            else:
                return line
            line = node.start_mark.line + 1
        return line


def _refuse(path: str, lines: _Lines, found: list[tuple[tuple[Any, ...], str]]) -> ManifestError:
    shown = [Problem(lines(loc), _where(loc), msg) for loc, msg in found[:MAX_SHOWN]]
    return ManifestError(path, shown, max(0, len(found) - MAX_SHOWN))


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it (or check its spelling)",
    "enum": "use one of the listed values",
    "string_pattern_mismatch": "see docs/release.md for the format",
    "model_type": "write it as a mapping (field: value), see docs/release.md",
    "list_type": "write it as a list (one '- ' item per line)",
    "string_type": "write it as text (quote it)",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "greater_than_equal": "use a larger number",
    "too_short": "add at least one",
}


# Pattern errors that deserve words rather than a regular expression.
_FORMATS = {
    "gitCommit": "must be a full 40-character lowercase commit SHA. Fix: `git rev-parse <ref>`",
    "sourceTag": "expected <prefix>_<build>, such as dev_123. Fix: use the dev tag CI pushed",
    "shortName": "lowercase letters, digits and '-', at most 40. Fix: shorten or rename it",
    "gitRepoShortName": "lowercase letters, digits and '-', at most 40. Fix: shorten or rename",
    "name": "lowercase letters, digits and '-', at most 40. Fix: shorten or rename it",
}


def _message(error: dict[str, Any]) -> str:
    loc = error["loc"]
    if error["type"] == "string_pattern_mismatch" and loc and loc[-1] in _FORMATS:
        return _FORMATS[loc[-1]]
    if error["type"] == "value_error":  # ours (paths): the message carries its own fix
        return str(error["ctx"]["error"])
    fix = _FIXES.get(error["type"])
    msg = error["msg"]
    if error["type"] == "missing":
        msg = "required field is missing"
    elif error["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{msg}. Fix: {fix}" if fix else msg


def _semantic_problems(manifest: Manifest, lines: _Lines) -> list[tuple[tuple[Any, ...], str]]:
    """Rules across entries: one entry per repository, job template matches the target."""
    found: list[tuple[tuple[Any, ...], str]] = []
    first: dict[tuple[str, str], tuple[Any, ...]] = {}

    def once(kind: str, value: str, loc: tuple[Any, ...], what: str) -> None:
        if (kind, value) in first:
            where = f"line {lines(first[kind, value])}"
            found.append(
                (loc, f"{what} {value!r} is already listed on {where}. Fix: list each one once")
            )
        else:
            first[kind, value] = loc

    for p, product in enumerate(manifest.products):
        once("product", product.name, ("products", p, "name"), "product")
        for d, dep in enumerate(product.deployments):
            at = ("products", p, "deployments", d)
            once("repo", dep.git_repo_name, (*at, "gitRepoName"), "repository")
            once("short", dep.git_repo_short_name, (*at, "gitRepoShortName"), "short name")
            base = JOB_TEMPLATE[dep.deploy_target]
            if not dep.workflow_base.startswith(base):
                found.append(
                    (
                        (*at, "workflowBase"),
                        f"{dep.workflow_base!r} is not a "
                        f"{dep.deploy_target.value} job. Fix: use {base!r} or "
                        f"'{base}-<flavour>' (or change deployTarget)",
                    )
                )
            needs = {
                DeployTarget.S3: ("bucket", dep.bucket),
                DeployTarget.APIGW: ("restApiId", dep.rest_api_id),
            }.get(dep.deploy_target)
            if needs and needs[1] is None:
                found.append(
                    (
                        at,
                        f"deployTarget {dep.deploy_target.value} needs {needs[0]}. "
                        f"Fix: add {needs[0]}",
                    )
                )
        for i, image in enumerate(product.images):
            once("image", image.repo_name, ("products", p, "images", i, "repoName"), "image repo")
    return found


def parse(text: str, path: str = "<manifest>") -> Manifest:
    """Validate ``text``; raise :class:`ManifestError` listing the problems with their lines."""
    try:
        root = safe_yaml.compose(text, path)
        document = safe_yaml.construct(root, path)
    except safe_yaml.YamlError as e:
        raise ManifestError(path, [Problem(e.line, "", e.problem)]) from None
    if not isinstance(document, dict):
        raise ManifestError(
            path,
            [
                Problem(
                    1,
                    "",
                    "must be a mapping with `environment` and `products` (see docs/release.md)",
                )
            ],
        )
    lines = _Lines(root)
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as e:
        found = [(err["loc"], _message(err)) for err in e.errors(include_url=False)]
        raise _refuse(path, lines, found) from None
    semantic = _semantic_problems(manifest, lines)
    if semantic:
        raise _refuse(path, lines, semantic)
    return manifest


def load(path: Path) -> Manifest:
    """The manifest in ``path``: a regular UTF-8 file within :data:`safe_yaml.LIMITS`."""
    try:
        text = safe_yaml.read_text(path)
    except safe_yaml.YamlError as e:
        raise ManifestError(str(path), [Problem(e.line, "", e.problem)]) from None
    return parse(text, str(path))


def sanitize(name: str) -> str:
    """A DNS-label form of ``name`` (for generated object names)."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63] or "x"
