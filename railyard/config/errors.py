"""Config problems: each names the key, what is wrong and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def excerpt(value: Any, limit: int = 80) -> str:
    """At most ``limit`` characters of a value for an error message (never the whole input)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" + (f". Fix: {self.fix}" if self.fix else "")


class ConfigError(ValueError):
    """The stack config is invalid; ``problems`` names every bad key."""

    SHOWN = 30  # a list of thousands of bad entries says how many, not all of them

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"  - {p}" for p in problems[: self.SHOWN]]
        if len(problems) > self.SHOWN:
            lines.append(f"  - and {len(problems) - self.SHOWN} more problems not shown")
        body = "\n".join(lines)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{body}")
