"""The stack's config as the Pulumi CLI would hand it to the program, read from the same files.

``Pulumi.yaml`` declarations and defaults, then ``Pulumi.<stack>.yaml``; secure values become
offline placeholders that stay marked secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from railyard.config import PROJECT, ConfigError, Problem, yaml_text
from railyard.config.errors import excerpt

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_DECLARED_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def load_stack_config(
    stack: str, overrides: Mapping[str, Any] | None = None, root: Path = PROJECT_ROOT
) -> tuple[dict[str, str], list[str]]:
    """Config values (full key -> string, as the CLI passes them) and the secret keys.

    ``overrides`` replace stack values (full keys); a value of ``None`` removes the key.
    Raises ``ConfigError`` for a missing stack file or a value of the wrong declared type.
    """
    project = _yaml_file(root / "Pulumi.yaml")
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        known = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(
            [Problem("stack", f"no {excerpt(stack_file.name)}", f"use one of {known}")]
        )
    values = _mapping(_yaml_file(stack_file).get("config"), stack_file.name, "config")

    declared = {
        _full_key(k): d for k, d in _mapping(project.get("config"), "Pulumi.yaml", "config").items()
    }
    for key, declaration in declared.items():
        if isinstance(declaration, dict) and "default" in declaration:
            values.setdefault(key, declaration["default"])
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value

    problems, secret_keys, config = [], [], {}
    for key, value in values.items():
        declaration = declared.get(key)
        if isinstance(declaration, dict) and "type" in declaration:
            expected = _DECLARED_TYPES[declaration["type"]]
            ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
            if not ok and not _has_secure(value):
                problems.append(
                    Problem(key, f"must be of type {declaration['type']} (Pulumi.yaml declares it)")
                )
        if _has_secure(value):
            secret_keys.append(key)
            value = _offline_secret(value)
        config[key] = _as_config_string(value)
    if problems:
        raise ConfigError(problems)
    return config, secret_keys


def _yaml_file(path: Path) -> Any:
    """A project or stack file, parsed with the config limits (size, depth, no aliases)."""
    try:
        document = yaml_text.load_file(path)
    except yaml_text.YamlInputError as e:
        where = f"line {e.line}: " if e.line else ""
        raise ConfigError([Problem(path.name, where + e.problem)]) from None
    except OSError as e:
        raise ConfigError([Problem(path.name, f"cannot be read ({e.strerror})")]) from None
    return _mapping(document, path.name, "the file")


def _mapping(value: Any, file: str, what: str) -> dict:
    """``value`` as a mapping (empty when absent), or a config error naming the file."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            [Problem(file, f"{what} is a {type(value).__name__}, not a mapping of keys to values")]
        )
    return dict(value)


def _full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _offline_secret(value: Any) -> Any:
    """Replace ciphertexts by stable, valid-looking placeholders (letters and digits, 32 long)."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "offline" + hashlib.sha256(str(value["secure"]).encode()).hexdigest()[:25]
    if isinstance(value, dict):
        return {k: _offline_secret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_offline_secret(v) for v in value]
    return value


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
