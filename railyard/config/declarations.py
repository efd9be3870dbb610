"""What ``Pulumi.yaml`` and docs/config.md say about each config key, rendered from the model.

``StackConfig`` declares every key once (alias, type, default, description); this module turns
it into the ``config:`` block of ``Pulumi.yaml`` (what the Pulumi CLI reads: types, and the
defaults a real deploy gets) and into the key table of docs/config.md. Pure: text in memory,
no files (``offline.config_files`` writes them).
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from railyard.config.model import PROJECT, StackConfig

PULUMI_MARKER = "# Generated from railyard/config/model.py by `make config-files`: edit the model."
DOCS_BEGIN = "<!-- generated from railyard/config/model.py by make config-files: do not edit -->"
DOCS_END = "<!-- end of generated table -->"

# The types a Pulumi project may declare (offline.stack_files checks values against them).
_PULUMI_TYPES = ("string", "integer", "boolean", "array")
_PULUMI_ITEM_TYPES = ("string", "integer", "boolean")


def is_secret(field: FieldInfo) -> bool:
    """A key whose value is only ever set with ``pulumi config set --secret``."""
    return bool((field.json_schema_extra or {}).get("secret"))


def _is_project_key(field: FieldInfo) -> bool:
    return str(field.alias).startswith(f"{PROJECT}:")


def _default(field: FieldInfo) -> Any:
    """The field's default as plain data (lists, strings, numbers), as a stack file spells it."""
    return to_jsonable_python(field.get_default(call_default_factory=True))


def pulumi_declarations(model: type[BaseModel] = StackConfig) -> dict[str, dict[str, Any]]:
    """Short key -> Pulumi declaration (type, items, default, description), in model order.

    Only the project's own keys are declared, and not the secret ones: a declared key without
    a default is required, and a secret has no default. Provider keys (``aws:region``) are set
    per stack. Raises ``ValueError`` for a field Pulumi cannot declare.
    """
    properties = model.model_json_schema(by_alias=True)["properties"]
    declared = {}
    for field in model.model_fields.values():
        if not _is_project_key(field) or is_secret(field):
            continue
        key = str(field.alias)
        schema = properties[key]
        kind = schema.get("type")
        if kind not in _PULUMI_TYPES:
            raise ValueError(f"{key}: Pulumi.yaml cannot declare a {kind or schema} value")
        declaration: dict[str, Any] = {"type": kind}
        if kind == "array":
            items = schema.get("items", {}).get("type")
            if items not in _PULUMI_ITEM_TYPES:
                raise ValueError(f"{key}: Pulumi.yaml cannot declare a list of {items or schema}")
            declaration["items"] = {"type": items}
        if not field.is_required():
            default = _default(field)
            if default is None:
                raise ValueError(f"{key}: give it a default, or mark it secret (then undeclared)")
            declaration["default"] = default
        if not field.description:
            raise ValueError(f"{key}: has no description")
        declaration["description"] = field.description
        declared[key.split(":", 1)[1]] = declaration
    return declared


def render_pulumi_config(model: type[BaseModel] = StackConfig) -> str:
    """The tail of ``Pulumi.yaml``: the generated-block marker, a comment and ``config:``."""
    fields = model.model_fields.values()
    secrets = ", ".join(str(f.alias).split(":", 1)[1] for f in fields if is_secret(f))
    providers = ", ".join(str(f.alias) for f in fields if not _is_project_key(f))
    comment = (
        "Every key the program reads, with its type, default and description. "
        f"Secret keys ({secrets}) are optional and not declared: a declared key without "
        f"default is required. Provider keys ({providers}) are set per stack."
    )
    config = yaml.safe_dump(
        {"config": pulumi_declarations(model)},
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,  # one line per value, however long
    )
    return (
        PULUMI_MARKER
        + "\n"
        + textwrap.fill(comment, width=98, initial_indent="# ", subsequent_indent="# ")
        + "\n"
        + config
    )


def docs_default(field: FieldInfo) -> str:
    """The default column of the docs table: what an unset key means."""
    if field.is_required():
        return "required"
    if is_secret(field):
        return "unset (secret)"
    default = _default(field)
    if default == "":
        return "empty"
    if isinstance(default, bool | list):  # as YAML and JSON spell them: true, ["a", "b"]
        return f"`{json.dumps(default)}`"
    return f"`{default}`"


def render_docs_table(model: type[BaseModel] = StackConfig) -> str:
    """The key table of docs/config.md: every key, provider and secret ones included."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for field in model.model_fields.values():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{field.alias}` | {docs_default(field)} | {meaning} |")
    return "\n".join(rows) + "\n"
