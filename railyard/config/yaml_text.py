"""Stack files and ``--set`` values as YAML, with limits.

Config is small: a stack file of a few KiB, a value of a few dozen characters. Anything far
beyond that is a mistake or an attack (an alias bomb, a thousand nested brackets, a number of
thousands of digits), so it is refused with the reason before PyYAML builds it.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_SCALAR = 64 * 1024
_OPENERS = {yaml.SequenceStartEvent, yaml.MappingStartEvent}
_CLOSERS = {yaml.SequenceEndEvent, yaml.MappingEndEvent}


class YamlInputError(ValueError):
    """Text that is not YAML, or YAML beyond the limits; the message says which."""


def load(text: str | bytes, what: str) -> Any:
    """Parse ``text`` (named ``what`` in errors) into plain data, or raise ``YamlInputError``."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise YamlInputError(f"{what}: {len(text)} bytes, more than config ever needs")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise YamlInputError(f"{what}: not UTF-8 (byte {e.start})") from None
    if len(text) > MAX_BYTES:
        raise YamlInputError(f"{what}: {len(text)} characters, more than config ever needs")
    if "\x00" in text:
        raise YamlInputError(f"{what}: holds a NUL character")
    try:
        _check_events(text, what)
        return yaml.safe_load(text)
    except YamlInputError:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise YamlInputError(f"{what}: not valid YAML{where}: {problem}") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise YamlInputError(f"{what}: a number too long to be a config value") from None


def _check_events(text: str, what: str) -> None:
    """Walk the event stream once: no aliases or anchors, bounded nesting and scalars."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise YamlInputError(f"{what}: anchors and aliases are not accepted in config")
        if type(event) in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlInputError(f"{what}: nested deeper than {MAX_DEPTH} levels")
        elif type(event) in _CLOSERS:
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR:
            raise YamlInputError(f"{what}: a value of {len(event.value)} characters")
