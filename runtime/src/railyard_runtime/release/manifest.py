"""The release manifest (``releases/*.yaml``, seed 002): schema and a loader whose errors carry
line numbers.

One environment block and a list of products; each product lists its ``deployments`` (source
repositories at a commit, deployed by the job template of their ``deployTarget``) and its
``images`` (ECR repositories whose ``dev_N`` tag is promoted to ``<destinationTagPrefix>_N``).
Every problem in a file is reported at once, each as ``FILE:LINE: where: what. Fix: …``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from railyard_runtime.errors import BadInput

# Names end up in Kubernetes object names and ECR tags: keep them DNS-label friendly.
Label = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")]
CommitSha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
TagPrefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class DeployTarget(StrEnum):
    LAMBDA = "lambda"
    S3 = "s3"
    APIGW = "apigw"


# The job template each target runs; ``workflowBase`` names a flavour of it (seed 002 uses
# s3-upload-resources, s3-upload-portal, ... for one s3 job template).
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
    git_repo_name: str = Field(alias="gitRepoName", pattern=r"^[A-Za-z0-9_.\-/]{1,100}$")
    git_repo_short_name: Label = Field(alias="gitRepoShortName")
    git_commit: CommitSha = Field(alias="gitCommit")
    workflow_base: str = Field(alias="workflowBase", min_length=1)
    deploy_target: DeployTarget = Field(alias="deployTarget")
    # Where the artifact goes. lambda: function (default <env shortName>-<gitRepoShortName>);
    # s3: bucket (required) and prefix; apigw: REST API id (required) and stage (default
    # the env's shortName). ``source``: the path inside the repository to deploy.
    function_name: str | None = Field(None, alias="functionName", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    prefix: str = Field("", pattern=r"^([A-Za-z0-9_.\-]+/)*$")
    rest_api_id: str | None = Field(None, alias="restApiId", pattern=r"^[a-z0-9]{10}$")
    stage: str | None = Field(None, pattern=r"^[A-Za-z0-9_]{1,128}$")
    source: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-/]+$")


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


@dataclass(frozen=True)
class Problem:
    line: int | None
    where: str
    message: str

    def render(self, path: str) -> str:
        at = f"{path}:{self.line}" if self.line else path
        return f"{at}: {self.where}: {self.message}" if self.where else f"{at}: {self.message}"


class ManifestError(BadInput):
    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(p.render(path) for p in problems))


# libyaml's parser when PyYAML was built with it (10x faster on a large train), same marks.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} given twice (first on line {seen[key]}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest node ``loc`` reaches (the parent when the key is missing)."""
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == part), None)
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
    fix = _FIXES.get(error["type"])
    msg = error["msg"]
    if error["type"] == "missing":
        msg = "required field is missing"
    elif error["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{msg}. Fix: {fix}" if fix else msg


def _semantic_problems(manifest: Manifest, root: yaml.Node) -> list[tuple[tuple[Any, ...], str]]:
    """Rules across entries: one entry per repository, job template matches the target."""
    found: list[tuple[tuple[Any, ...], str]] = []
    first: dict[tuple[str, str], tuple[Any, ...]] = {}

    def once(kind: str, value: str, loc: tuple[Any, ...], what: str) -> None:
        if (kind, value) in first:
            where = f"line {_line_of(root, first[kind, value])}"
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
    """Validate ``text``; raise :class:`ManifestError` listing every problem with its line."""
    loader = _Loader(text)
    try:  # one parse: the node tree gives line numbers, the same tree gives the document
        root = loader.get_single_node()
        document = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as e:
        # where the broken construct starts (an unclosed bracket's line), else where it broke
        mark = e.context_mark or e.problem_mark
        line = mark.line + 1 if mark else None
        raise ManifestError(path, [Problem(line, "", f"not valid YAML: {e.problem or e}")]) from e
    finally:
        loader.dispose()
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
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as e:
        problems = [
            Problem(_line_of(root, err["loc"]), _where(err["loc"]), _message(err))
            for err in e.errors()
        ]
        raise ManifestError(path, problems) from e
    semantic = _semantic_problems(manifest, root)
    if semantic:
        raise ManifestError(
            path, [Problem(_line_of(root, loc), _where(loc), msg) for loc, msg in semantic]
        )
    return manifest


def load(path: Path) -> Manifest:
    try:
        text = path.read_text()
    except OSError as e:
        raise BadInput(f"{path}: cannot read it ({e.strerror})") from e
    return parse(text, str(path))


def sanitize(name: str) -> str:
    """A DNS-label form of ``name`` (for generated object names)."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63] or "x"
