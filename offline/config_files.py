"""Rewrite the generated parts of Pulumi.yaml and docs/config.md from the config model.

    python -m offline.config_files      # what `make config-files` runs

Pulumi.yaml keeps everything above its marker line byte for byte (name, runtime, main) and
gets a fresh ``config:`` block below it; docs/config.md keeps its prose and gets a fresh key
table between its two marker comments. tests/test_config_files.py fails while either file
differs from what this would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from railyard.config.declarations import (
    DOCS_BEGIN,
    DOCS_END,
    PULUMI_MARKER,
    render_docs_table,
    render_pulumi_config,
)
from railyard.config.model import StackConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PULUMI_YAML = Path("Pulumi.yaml")
CONFIG_DOCS = Path("docs/config.md")


class MarkerError(ValueError):
    """A file lost the marker that says where its generated part is."""


def with_pulumi_config(text: str, model: type[BaseModel] = StackConfig) -> str:
    """Pulumi.yaml ``text`` with everything from the marker line on rendered from ``model``."""
    head, found, _ = text.partition(PULUMI_MARKER)
    if not found or not (head == "" or head.endswith("\n")):
        raise MarkerError(f"{PULUMI_YAML}: put the line {PULUMI_MARKER!r} above its config:")
    return head + render_pulumi_config(model)


def with_docs_table(text: str, model: type[BaseModel] = StackConfig) -> str:
    """docs/config.md ``text`` with the table between the markers rendered from ``model``."""
    head, found_begin, rest = text.partition(DOCS_BEGIN + "\n")
    _, found_end, tail = rest.partition(DOCS_END)
    if not (found_begin and found_end):
        raise MarkerError(f"{CONFIG_DOCS}: put the key table between {DOCS_BEGIN} and {DOCS_END}")
    return head + DOCS_BEGIN + "\n" + render_docs_table(model) + DOCS_END + tail


def generated_files(root: Path = PROJECT_ROOT) -> dict[Path, str]:
    """Each generated file (absolute path) with the content it should have now."""
    pulumi, docs = root / PULUMI_YAML, root / CONFIG_DOCS
    return {
        pulumi: with_pulumi_config(pulumi.read_text(encoding="utf-8")),
        docs: with_docs_table(docs.read_text(encoding="utf-8")),
    }


def main(root: Path = PROJECT_ROOT) -> int:
    try:
        files = generated_files(root)
    except ValueError as e:  # a lost marker, or a field Pulumi cannot declare
        print(e, file=sys.stderr)
        return 1
    for path, text in files.items():
        changed = path.read_text(encoding="utf-8") != text
        if changed:
            path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(root)}: {'rewritten' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
