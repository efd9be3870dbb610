"""Stack files and ``--set`` values as YAML, with the limits config needs.

Config is small: a stack file of a few KiB, a value of a few dozen characters. Anything far
beyond that is a mistake or an attack (an alias bomb, thousands of nested brackets, a number of
thousands of digits): the runtime's bounded loader refuses it with the reason, before anything
is built, and here the refusal becomes a config error naming the file or key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from railyard_runtime import safe_yaml

LIMITS = safe_yaml.Limits(max_bytes=1024 * 1024, max_depth=32, max_nodes=20_000)


class YamlInputError(ValueError):
    """Text that is not YAML, or YAML beyond the limits: ``problem`` says which (with the fix)
    and ``line`` where (None: the whole text)."""

    def __init__(self, what: str, line: int | None, problem: str):
        self.what, self.line, self.problem = what, line, problem
        super().__init__(f"{what}:{line}: {problem}" if line else f"{what}: {problem}")


def load(text: str, what: str) -> Any:
    """Parse ``text`` (named ``what`` in errors) into plain data, or raise ``YamlInputError``."""
    if "\0" in text:
        raise YamlInputError(what, None, "holds a NUL character. Fix: remove it")
    try:
        return safe_yaml.loads(text, what, LIMITS)
    except safe_yaml.YamlError as e:
        raise YamlInputError(what, e.line, e.problem) from None


def load_file(path: Path) -> Any:
    """The document of ``path`` (a regular UTF-8 file within the limits), named by file name."""
    try:
        text = safe_yaml.read_text(path, LIMITS)
    except safe_yaml.YamlError as e:  # not a regular file, too big, not UTF-8
        raise YamlInputError(path.name, e.line, e.problem) from None
    return load(text, path.name)
