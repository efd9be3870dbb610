"""The accepted-values table of ``docs/provider-values.md``, read as data.

Each row of the table names a resource type (optionally narrowed by ``where `field=value```),
an argument path and what the provider accepts. Paths are the engine's camelCase input names:
``a.b`` descends, ``*`` takes every value of a map, ``a[]`` every element of a list,
``a[key=value]`` the elements whose ``key`` equals ``value`` (the value may hold dots).
Accepted values are a list of backticked values (`` `a`, `b` ``), an inclusive integer range
(`` `1` to `99999999` ``) or a pattern (`` matches `^…$` ``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parent.parent / "docs" / "provider-values.md"
_TICKED = re.compile(r"`([^`]*)`")
_STEP = re.compile(r"^(?P<name>[A-Za-z0-9_*]+)(?:\[(?P<select>[^\]]*)\])?$")
_TYPE_TOKEN = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9/.-]+:[A-Za-z0-9]+$")
_STEPS = re.compile(r"[^.\[]+(?:\[[^\]]*\])?")


@dataclass(frozen=True)
class Row:
    line: int
    type_token: str
    where: tuple[str, str] | None
    path: str
    accepted: str
    source: str

    def accepts(self, value: Any) -> bool:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # the engine carries every number as a float
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if m := re.fullmatch(r"matches `(.+)`", self.accepted):
            return re.fullmatch(m.group(1), text) is not None
        if m := re.fullmatch(r"`(-?\d+)` to `(-?\d+)`", self.accepted):
            return text.lstrip("-").isdigit() and int(m.group(1)) <= int(text) <= int(m.group(2))
        return text in _TICKED.findall(self.accepted)

    def applies_to(self, inputs: dict[str, Any]) -> bool:
        if self.where is None:
            return True
        key, value = self.where
        return str(inputs.get(key)) == value

    def values(self, inputs: dict[str, Any]) -> Iterator[Any]:
        """Every value at the row's path; lists at the end of the path yield their elements."""
        yield from _walk(inputs, _STEPS.findall(self.path))


def _walk(node: Any, steps: list[str]) -> Iterator[Any]:
    if not steps:
        if isinstance(node, list):
            yield from node
        elif node is not None:
            yield node
        return
    m = _STEP.match(steps[0])
    if m is None or not isinstance(node, dict):
        return
    if m["name"] == "*":
        for child in node.values():
            yield from _walk(child, steps[1:])
        return
    if m["name"] not in node:
        return
    child = node[m["name"]]
    if m["select"] is None:
        yield from _walk(child, steps[1:])
        return
    key, _, wanted = m["select"].partition("=")
    for element in child if isinstance(child, list) else []:
        if not key or (isinstance(element, dict) and str(element.get(key)) == wanted):
            yield from _walk(element, steps[1:])


def rows(doc: Path = DOC) -> list[Row]:
    """Rows of the accepted-values table (the one whose header starts ``| Resource | Argument``)."""
    found, in_table = [], False
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("| Resource | Argument |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        resource, path, accepted, source = (c.replace("\\|", "|") for c in cells)
        ticks = _TICKED.findall(resource)
        where = tuple(ticks[1].split("=", 1)) if len(ticks) > 1 else None
        found.append(
            Row(number, ticks[0], where, _TICKED.findall(path)[0], accepted, source)  # type: ignore[arg-type]
        )
    return found


def unconstrained_types(doc: Path = DOC) -> set[str]:
    """Types listed under "Resources without enum-like or range-bound arguments"."""
    text = doc.read_text(encoding="utf-8")
    _, _, section = text.partition("## Resources without enum-like or range-bound arguments")
    section = section.split("\n## ", 1)[0]
    return {t for t in _TICKED.findall(section) if _TYPE_TOKEN.match(t)}
