"""YAML from files nobody vetted: bounded in size, depth and values, with line numbers.

PyYAML's fast loader composes nodes recursively in C: a few thousand nested ``[`` overflow
the C stack and kill the process, and libyaml slows down quadratically with nesting before
that. So libyaml (or PyYAML's pure-Python parser) is used only as an event stream, and the
node tree is built here, iteratively, refusing the first level past ``max_depth``: libyaml
never sees more than that many open collections. Anchors and aliases are refused (no alias
bombs, no aliased keys), and so are merge keys (``<<``), which need them to be useful.

A file is read only if it is a regular file no larger than ``max_bytes`` (checked before
reading; a FIFO or a device is never opened for a blocking read), and only as UTF-8 without
NUL bytes. Every refusal is a :class:`YamlError` (exit code 2) rendered as
``FILE:LINE: what is wrong. Fix: …``.

    from railyard_runtime import safe_yaml
    document = safe_yaml.load(Path("x.yaml"))                # plain Python values
    document, root = safe_yaml.load_with_nodes(path)         # ... and the node tree (lines)
    document = safe_yaml.loads(text, "x.yaml", safe_yaml.Limits(max_depth=16))
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from railyard_runtime import files
from railyard_runtime.errors import BadInput

__all__ = [
    "LIMITS",
    "Limits",
    "YamlError",
    "compose",
    "construct",
    "decode",
    "load",
    "load_with_nodes",
    "loads",
    "read_text",
]


@dataclass(frozen=True)
class Limits:
    """What one YAML file may hold; the defaults fit configuration and release manifests."""

    # ~15 us per node through libyaml and PyYAML: 200,000 values (a 25,000-artifact release
    # manifest) load in about 3 s; a flat list filling max_bytes would be 2,000,000
    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64  # open lists/mappings at once
    max_nodes: int = 200_000  # scalars, lists and mappings in the document
    max_scalar_chars: int = 65_536  # one value or key
    max_int_digits: int = 100  # an integer literal (Python refuses to parse > 4300)


LIMITS = Limits()

_INT = "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(BadInput):
    """A file refused: ``line`` (1-based, or None for the whole file) and ``problem``."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path = path
        self.line = line
        self.problem = problem
        at = f"{path}:{line}" if line else path
        super().__init__(f"{at}: {problem}")


def read_text(path: Path, limits: Limits = LIMITS) -> str:
    """The text of ``path``: a regular file of at most ``limits.max_bytes``, UTF-8, no NUL."""
    name = str(path)
    try:
        data = files.read_regular(path, limits.max_bytes)
    except files.FileRefused as e:
        if e.size is not None:
            _check_size(name, e.size, limits)
        raise YamlError(name, None, f"{e.problem}. Fix: give the path of a YAML file") from None
    return decode(data, name)


def _check_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise YamlError(
            name,
            None,
            f"is {size:,} bytes, more than the {limits.max_bytes:,} read. "
            "Fix: split it into smaller files",
        )


def decode(data: bytes, path: str = "<yaml>") -> str:
    """``data`` as text: UTF-8 (a leading byte-order mark is dropped), without NUL bytes."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise YamlError(
            path,
            line,
            f"not UTF-8 text (byte 0x{data[e.start]:02x} in column {column}). "
            "Fix: save the file as UTF-8",
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise YamlError(
            path,
            text.count("\n", 0, nul) + 1,
            "contains a NUL byte, so it is not a text file. Fix: remove it",
        )
    return text


if yaml.__with_libyaml__:
    from yaml.cyaml import CParser as _Parser
else:  # pragma: no cover - PyYAML built without libyaml: its parser is iterative too

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
        def __init__(self, stream: str):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


_RESOLVER = yaml.resolver.Resolver()


def _line(event_or_node: Any) -> int:
    return event_or_node.start_mark.line + 1


def compose(text: str, path: str = "<yaml>", limits: Limits = LIMITS) -> Node | None:
    """The node tree of the single document in ``text`` (None when empty), within ``limits``."""
    _check_size(path, len(text), limits)  # text that did not come through read_text
    parser = _Parser(text)
    try:
        return _compose(parser, path, limits)
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(e, path) from None
    except yaml.YAMLError as e:  # the reader's: a character YAML does not allow
        position = getattr(e, "position", 0)
        before = text.encode()[:position] if yaml.__with_libyaml__ else text[:position]
        reason = getattr(e, "reason", None) or str(e)
        raise YamlError(
            path,
            before.count("\n" if isinstance(before, str) else b"\n") + 1,
            f"not valid YAML: {reason}. Fix: remove the control character",
        ) from None
    finally:
        parser.dispose()


def _syntax_error(
    e: yaml.MarkedYAMLError,
    path: str,
    fix: str = "correct the syntax (brackets, quotes, indents)",
) -> YamlError:
    # where the broken construct starts (an unclosed bracket's line), else where it broke
    mark = e.context_mark or e.problem_mark
    return YamlError(
        path,
        mark.line + 1 if mark else None,
        f"not valid YAML: {e.problem or e}. Fix: {fix}",
    )


def _compose(parser: Any, path: str, limits: Limits) -> Node | None:
    def refuse(at: Any, problem: str) -> YamlError:
        return YamlError(path, _line(at), problem)

    parser.get_event()  # stream start
    if parser.check_event(StreamEndEvent):
        return None
    parser.get_event()  # document start
    # Built without recursion: each open collection is [node, key waiting for its value].
    open_: list[list[Any]] = []
    nodes = 0
    root: Node | None = None
    while root is None:
        event = parser.get_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise refuse(
                event,
                "anchors and aliases (&name, *name) are not supported. "
                "Fix: write the value out where it is used",
            )
        if isinstance(event, SequenceEndEvent | MappingEndEvent):
            node, _ = open_.pop()
            node.end_mark = event.end_mark
            if not open_:
                root = node
            continue
        nodes += 1
        if nodes > limits.max_nodes:
            raise refuse(
                event, f"more than {limits.max_nodes:,} values. Fix: split it into smaller files"
            )
        tag = event.tag
        if isinstance(event, ScalarEvent):
            if tag is None or tag == "!":
                tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)
            _check_scalar(event, tag, limits, refuse)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            if not open_:
                root = node
            else:
                _attach(open_, node, refuse)
            continue
        if len(open_) >= limits.max_depth:
            raise refuse(
                event,
                f"nested more than {limits.max_depth} levels deep. Fix: flatten the structure",
            )
        kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(kind, None, event.implicit)
        # attached now, filled as its events arrive (a collection key is refused right here)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        _attach(open_, node, refuse)
        open_.append([node, None])
    parser.get_event()  # document end
    if not parser.check_event(StreamEndEvent):
        raise refuse(
            parser.get_event(), "a second document (---) in one file. Fix: keep one document"
        )
    return root


def _attach(open_: list[list[Any]], node: Node, refuse: Any) -> None:
    if not open_:
        return
    parent = open_[-1]
    if isinstance(parent[0], SequenceNode):
        parent[0].value.append(node)
    elif parent[1] is None:
        if not isinstance(node, ScalarNode):
            raise refuse(
                node, "a key that is a list or a mapping. Fix: use a plain text key (name: value)"
            )
        parent[1] = node
    else:
        parent[0].value.append((parent[1], node))
        parent[1] = None


def _check_scalar(event: ScalarEvent, tag: str, limits: Limits, refuse: Any) -> None:
    if len(event.value) > limits.max_scalar_chars:
        raise refuse(
            event,
            f"a value of {len(event.value):,} characters, more than {limits.max_scalar_chars:,}. "
            "Fix: shorten it",
        )
    if tag == _INT:
        digits = sum(c.isalnum() for c in event.value)
        if digits > limits.max_int_digits:
            raise refuse(
                event,
                f"an integer of {digits:,} digits, more than {limits.max_int_digits}. "
                "Fix: shorten it, or quote it if it is text",
            )
    elif tag == _MERGE:
        raise refuse(event, "merge keys (<<) are not supported. Fix: write the keys out")


class _Constructor(yaml.constructor.SafeConstructor):
    """Safe types; a key given twice in one mapping is an error (PyYAML keeps the last)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise YamlError(
                    self.path,
                    _line(key_node),
                    f"not valid YAML: key {key!r} given twice (first on line {seen[key]}). "
                    "Fix: keep one",
                )
            seen[key] = _line(key_node)
        return super().construct_mapping(node, deep)

    def construct_object(self, node, deep=False):
        # PyYAML's own constructors raise plain errors on values like 2001-13-45 or !!int x
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as e:
            if isinstance(e, YamlError):
                raise
            raise YamlError(
                self.path,
                _line(node),
                f"not a valid value ({str(e)[:80]}). Fix: correct it, or quote it if it is text",
            ) from None


def construct(root: Node | None, path: str = "<yaml>") -> Any:
    """The Python value of a tree from :func:`compose` (dicts, lists, str, int, ...)."""
    if root is None:
        return None
    try:
        return _Constructor(path).construct_document(root)
    except yaml.MarkedYAMLError as e:  # an unknown tag (!foo), a malformed !!binary ...
        raise _syntax_error(e, path, "remove the tag or correct the value") from None


def loads(text: str, path: str = "<yaml>", limits: Limits = LIMITS) -> Any:
    """The document in ``text``; ``path`` names it in errors."""
    return construct(compose(text, path, limits), path)


def load_with_nodes(path: Path, limits: Limits = LIMITS) -> tuple[Any, Node | None]:
    """The document in the file ``path`` and its node tree (for line numbers)."""
    root = compose(read_text(path, limits), str(path), limits)
    return construct(root, str(path)), root


def load(path: Path, limits: Limits = LIMITS) -> Any:
    """The document in the file ``path``."""
    return load_with_nodes(path, limits)[0]
