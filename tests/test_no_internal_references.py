"""The repository speaks to its users only: no pointer to documents they do not have.

Every text file git knows about (tracked, or new and not ignored) is scanned for references to
internal design notes or source documents. Reasons belong in docs/design.md, and code points
there by heading (``docs/design.md: <heading>``), which must exist.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".whl"}
# Spelled in pieces so that this file does not match its own patterns.
INTERNAL = re.compile("|".join(["DESIGN" + r"\.md", "se" + "ed ?0[0-9]", "\u00a7" + "[0-9]"]))
DESIGN_POINTER = re.compile(r"docs/design\.md: ([A-Za-z][\w -]*[\w])")


def text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    paths = (ROOT / name for name in listed.split("\0") if name)
    return [p for p in paths if p.is_file() and p.suffix.lower() not in BINARY_SUFFIXES]


def lines_of(path: Path) -> list[str]:
    data = path.read_bytes()
    if b"\0" in data:  # binary without a telling suffix
        return []
    return data.decode("utf-8", errors="replace").splitlines()


def matches(pattern: re.Pattern[str]) -> list[tuple[str, int, re.Match[str]]]:
    """(file, line number, match) of every match in the repository's text files."""
    return [
        (str(path.relative_to(ROOT)), number, match)
        for path in text_files()
        for number, line in enumerate(lines_of(path), start=1)
        for match in pattern.finditer(line)
    ]


def test_no_reference_to_internal_documents():
    found = [
        f"{where}:{number}: {match.string.strip()[:120]}"
        for where, number, match in matches(INTERNAL)
    ]
    assert not found, (
        "references to documents users of this repository do not have; name the behaviour or "
        "link docs/design.md instead:\n" + "\n".join(found)
    )


def test_design_pointers_name_a_heading():
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    headings = {h.strip().lower() for h in re.findall(r"^#+ (.+)$", design, re.MULTILINE)}
    unknown = [
        f"{where}:{number}: {match.group(1)!r}"
        for where, number, match in matches(DESIGN_POINTER)
        if match.group(1).lower() not in headings
    ]
    assert not unknown, "pointers to docs/design.md headings that do not exist:\n" + "\n".join(
        unknown
    )
