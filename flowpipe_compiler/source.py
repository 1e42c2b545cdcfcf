"""Bounded, position-keeping loading of one YAML or JSON document.

Flow files are untrusted input. We read them through ruamel.yaml's event parser (its C
implementation when installed: about 0.4 ms for a 50-line flow, against 10-15 ms for
ruamel's own constructors) and compose plain ``dict``/``list``/scalar data ourselves. That
one pass gives us, for every node, the line and column it starts at, and lets us enforce the
limits below without ever materialising an expanded alias bomb.

Scalars resolve by the YAML 1.2 core schema (``yes``/``on`` stay strings, as in ruamel and
Go's yaml.v3). Mapping keys are always strings. Tags other than the core ones are refused,
so no YAML document can ask for an object to be built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flowpipe_compiler.diagnostics import Location, Path, SourceError

MAX_FILE_BYTES = 1024 * 1024
"""A flow file larger than this is refused before parsing."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted."""
MAX_NODES = 100_000
"""Most nodes a document may hold once aliases are expanded ("billion laughs" guard)."""

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}


@dataclass(slots=True)
class Document:
    """A loaded document: plain data plus where each node starts in the text."""

    path: str
    text: str
    data: Any
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """Location of the node at ``path``, or of its nearest located ancestor.

        With ``key``, a mapping entry is located at its key rather than its value.
        """
        probe = tuple(path)
        while True:
            hit = (self.keys.get(probe) if key else None) or self.values.get(probe)
            if hit is not None:
                return hit
            if not probe:
                return Location(1, 1)
            probe = probe[:-1]


def decode(path: str, raw: bytes) -> str:
    """UTF-8 text of ``raw`` (a leading BOM dropped), or a located error."""
    if len(raw) > MAX_FILE_BYTES:
        raise SourceError(
            "FP006",
            f"file is larger than the {MAX_FILE_BYTES:,}-byte limit for flow files",
            Location(1, 1),
            hint="split the file or remove embedded data",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise SourceError(
            "FP003",
            f"byte 0x{raw[exc.start]:02x} is not valid UTF-8",
            Location(line, col),
            hint="save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def load(path: str, text: str) -> Document:
    """Compose ``text`` into a :class:`Document`, or raise :class:`SourceError`."""
    doc = Document(path, text, None)
    composer = _Composer(doc)
    try:
        doc.data = composer.run(_events(text))
    except SourceError:
        raise
    except Exception as exc:  # ruamel's MarkedYAMLError and its kin
        raise _syntax_error(text, exc) from None
    return doc


def _events(text: str) -> Iterator[Any]:
    try:
        from _ruamel_yaml import CParser  # ruamel.yaml.clib: libyaml's parser
    except ImportError:  # pragma: no cover - pure-Python fallback, same events
        from ruamel.yaml import YAML

        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = CParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _syntax_error(text: str, exc: Exception) -> SourceError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    lines = text.splitlines()
    bad = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in bad[: max(col, 1)] or (col - 1 < len(bad) and bad[col - 1 : col] == "\t"):
        tab = bad.index("\t") + 1
        return SourceError(
            "FP010",
            "tab character in indentation; YAML indents with spaces only",
            Location(line, tab),
            hint="replace the tab with spaces",
        )
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return SourceError("FP001", message, Location(line, col), hint="fix the YAML syntax here")


def _resolve_plain(value: str) -> Any:
    if _NULL.match(value):
        return None
    if _TRUE.match(value):
        return True
    if _FALSE.match(value):
        return False
    if _INT10.match(value):
        return int(value)
    if _INT8.match(value):
        return int(value[2:], 8)
    if _INT16.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value) and any(c.isdigit() for c in value):
        return float(value)
    if _INF.match(value):
        return float("-inf") if value.startswith("-") else float("inf")
    if _NAN.match(value):
        return float("nan")
    return value


def _mark(event: Any) -> Location:
    start, end = event.start_mark, event.end_mark
    end_col = end.column + 1 if end.line == start.line else None
    return Location(start.line + 1, start.column + 1, end_col)


class _Composer:
    """Builds plain data from parser events with an explicit stack (no recursion).

    An anchor is registered when its node is complete, so an alias can never refer to a
    node that contains it: composed data is always a tree of shared, acyclic parts.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.anchors: dict[str, Any] = {}
        self.sizes: dict[int, int] = {}
        self.nodes = 0

    def run(self, events: Iterator[Any]) -> Any:
        documents = 0
        result: Any = None
        for event in events:
            if type(event).__name__ == "DocumentStartEvent":
                documents += 1
                if documents > 1:
                    raise SourceError(
                        "FP013",
                        "more than one YAML document; a flow file holds exactly one flow",
                        _mark(event),
                        hint="put each flow in a file of its own",
                    )
                result = self._document(events)
        return result

    def _count(self, n: int, event: Any) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise SourceError(
                "FP007",
                f"document expands to more than {MAX_NODES:,} nodes",
                _mark(event),
                hint="aliases that repeat large anchors multiply the document; write it out",
            )

    def _size(self, value: Any) -> int:
        """Node count of ``value`` with aliases expanded; shared parts are measured once."""
        if not isinstance(value, (dict, list)):
            return 1
        known = self.sizes.get(id(value))
        if known is None:
            children = value.values() if isinstance(value, dict) else value
            known = 1 + sum(self._size(child) for child in children)
            self.sizes[id(value)] = known
        return known

    def _document(self, events: Iterator[Any]) -> Any:
        stack: list[_Frame] = []
        root: Any = None
        for event in events:
            kind = type(event).__name__
            if kind == "DocumentEndEvent":
                break
            if kind in ("MappingEndEvent", "SequenceEndEvent"):
                done = stack.pop()
                if done.merges and isinstance(done.container, dict):
                    _merge(done.container, done.merges, self.doc.locate(done.path))
                if done.anchor:
                    self.anchors[done.anchor] = done.container
                continue
            top = stack[-1] if stack else None
            if top is not None and top.expecting_key:
                self._key(event, top)
                continue
            path: Path = top.child_path() if top is not None else ()
            value, is_container = self._node(event, path, kind)
            if top is not None:
                top.attach(value)
            else:
                root = value
            if is_container:
                if len(stack) >= MAX_DEPTH:
                    raise SourceError(
                        "FP007",
                        f"nesting deeper than {MAX_DEPTH} levels",
                        _mark(event),
                        hint="flatten the structure",
                    )
                stack.append(_Frame(value, path, event.anchor))
            elif getattr(event, "anchor", None) and kind == "ScalarEvent":
                self.anchors[event.anchor] = value
        return root

    def _key(self, event: Any, frame: _Frame) -> None:
        if type(event).__name__ != "ScalarEvent":
            raise SourceError(
                "FP001",
                "invalid YAML: mapping keys must be plain scalars",
                _mark(event),
                hint="use a string key",
            )
        key = str(event.value)
        # Only a plain << merges; a quoted "<<" is an ordinary key.
        frame.merging = key == "<<" and event.style in (None, "") and event.tag is None
        location = _mark(event)
        if key in frame.container and not frame.merging:
            first = self.doc.keys.get((*frame.path, key))
            where = f" (first defined at line {first.line})" if first else ""
            raise SourceError(
                "FP002",
                f"duplicate key {key!r}{where}",
                location,
                hint="remove one of the two entries",
            )
        frame.key = key
        self.doc.keys[(*frame.path, key)] = location

    def _node(self, event: Any, path: Path, kind: str) -> tuple[Any, bool]:
        location = _mark(event)
        self.doc.values[path] = location
        if kind == "AliasEvent":
            if event.anchor not in self.anchors:
                raise SourceError(
                    "FP001",
                    f"invalid YAML: alias *{event.anchor} names no anchor defined before it",
                    location,
                    hint="define the anchor before using it",
                )
            value = self.anchors[event.anchor]
            self._count(self._size(value), event)
            return value, False
        self._count(1, event)
        if kind == "ScalarEvent":
            return self._scalar(event), False
        expected = _CORE + ("map" if kind == "MappingStartEvent" else "seq")
        if event.tag not in (None, "!", expected):
            raise SourceError(
                "FP012", f"unsupported YAML tag {event.tag!r}", location, hint="remove the tag"
            )
        return ({} if kind == "MappingStartEvent" else []), True

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        value: str = event.value
        if tag is None or tag == "!":
            plain = event.style in (None, "") and tag is None
            return _resolve_plain(value) if plain else value
        if tag not in _SCALAR_TAGS:
            raise SourceError(
                "FP012",
                f"unsupported YAML tag {tag!r}",
                _mark(event),
                hint="remove the tag; flows hold plain strings, numbers, booleans and null",
            )
        short = tag.removeprefix(_CORE)
        if short == "str":
            return value
        resolved = _resolve_plain(value)
        is_number = isinstance(resolved, (int, float)) and not isinstance(resolved, bool)
        ok = {
            "int": is_number and isinstance(resolved, int),
            "float": is_number,
            "bool": isinstance(resolved, bool),
            "null": resolved is None,
        }[short]
        if not ok:
            raise SourceError(
                "FP012", f"{value!r} is not a valid !!{short}", _mark(event), hint="fix the value"
            )
        return float(resolved) if short == "float" else resolved


@dataclass(slots=True)
class _Frame:
    container: dict[str, Any] | list[Any]
    path: Path
    anchor: str | None
    key: str | None = None
    merging: bool = False
    """The pending key is a merge key (a plain ``<<``)."""
    merges: list[Any] = field(default_factory=list)
    """Values of this mapping's merge keys, applied when it ends (explicit keys win)."""

    @property
    def expecting_key(self) -> bool:
        return isinstance(self.container, dict) and self.key is None

    def child_path(self) -> Path:
        if isinstance(self.container, dict):
            assert self.key is not None
            return (*self.path, self.key)
        return (*self.path, len(self.container))

    def attach(self, value: Any) -> None:
        if isinstance(self.container, dict):
            assert self.key is not None
            if self.merging:
                self.merges.append(value)
            else:
                self.container[self.key] = value
            self.key = None
        else:
            self.container.append(value)


def _merge(mapping: dict[str, Any], merges: list[Any], where: Location) -> None:
    """Apply YAML merge keys (``<<: *base`` or ``<<: [*a, *b]``); explicit keys win."""
    sources: list[Any] = []
    for item in merges:
        sources.extend(item if isinstance(item, list) else [item])
    for source in sources:
        if not isinstance(source, dict):
            raise SourceError(
                "FP001",
                "invalid YAML: a merge key (<<) takes a mapping or a list of mappings",
                where,
                hint="merge an anchored mapping: <<: *base",
            )
        for key, value in source.items():
            mapping.setdefault(key, value)
