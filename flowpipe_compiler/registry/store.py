"""The schema registry as files: ``schemas/<schema_id>/``.

Layout (docs/registry.md)::

    schemas/
      registry.yaml            optional: {compatibility: BACKWARD} - the repo default
      trade/
        schema.yaml            format, compatibility, active, description, deprecated
        v1.json                immutable, numbered from 1 without gaps
        v2.json

Reading the tree never follows a path or symlink out of the repository root and never
fetches anything. Problems are reported as located diagnostics (``schema check``); a flow
that refers to a broken entry gets one error naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from flowpipe_compiler import schema_check, schemas, source
from flowpipe_compiler.diagnostics import Diagnostic, Severity, SourceError
from flowpipe_compiler.findings import Findings
from flowpipe_compiler.registry import formats
from flowpipe_compiler.registry.compat import Mode, check
from flowpipe_compiler.registry.gittree import GitNode

Node = Path | GitNode
"""A folder or file on disk, or in a git commit (the REST service reads from a branch)."""

DIRECTORY = "schemas"
METADATA = "schema.yaml"
DEFAULTS = "registry.yaml"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.(.+)$")


@dataclass(slots=True)
class Entry:
    schema_id: str
    path: Node
    format: str = "JSON"
    compatibility: Mode = Mode.BACKWARD
    active: int = 0
    description: str = ""
    deprecated: bool = False
    versions: dict[int, Node] = field(default_factory=dict)
    broken: bool = False
    """Metadata or versions are invalid: ``schema check`` says why."""
    parsed: dict[int, Any] = field(default_factory=dict)
    """Bodies already read: a thousand flows may use one schema (treat them as read-only)."""

    def body(self, version: int) -> Any:
        if version not in self.parsed:
            self.parsed[version] = formats.parse(self.format, self.versions[version].read_bytes())
        return self.parsed[version]

    def bodies_to_check(self) -> list[Any]:
        """The earlier versions a new one is checked against under this entry's mode."""
        numbers = sorted(self.versions)
        if self.compatibility is Mode.NONE:
            numbers = []
        elif not self.compatibility.transitive:
            numbers = numbers[-1:]
        return [self.body(n) for n in numbers]


@dataclass(slots=True)
class Registry:
    root: Node
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    default_mode: Mode = Mode.BACKWARD

    @property
    def directory(self) -> Node:
        return self.root / DIRECTORY


def _display(path: Node, root: Node) -> str:
    try:
        return path.relative_to(root).as_posix()  # type: ignore[arg-type]
    except ValueError:
        return str(path)


def inside(path: Node, root: Node) -> bool:
    """Whether ``path`` stays inside ``root`` once symlinks are resolved."""
    if isinstance(path, GitNode) or isinstance(root, GitNode):
        return True  # a git tree holds no path out of itself (symlinks are not followed)
    return path.resolve().is_relative_to(root.resolve())


def _problem(registry: Registry, path: Node, code: str, message: str, hint: str) -> None:
    registry.problems.append(
        Diagnostic(code, Severity.ERROR, message, _display(path, registry.root), None, hint=hint)
    )


def _load_yaml(registry: Registry, path: Node, schema_name: str) -> dict[str, Any] | None:
    name = _display(path, registry.root)
    try:
        doc = source.load(name, source.decode(name, path.read_bytes()))
    except SourceError as exc:
        registry.problems.append(
            Diagnostic(exc.code, Severity.ERROR, exc.message, name, exc.location, hint=exc.hint)
        )
        return None
    findings = Findings(doc)
    data = doc.data if doc.data is not None else {}
    schema_check.report(findings, schemas.validator(schema_name), schemas.load(schema_name), data)
    registry.problems.extend(findings.items)
    return data if not findings.has_errors and isinstance(data, dict) else None


@cache
def load(root: Path) -> Registry:
    """The registry under ``root/schemas`` (cached per root for the life of the process)."""
    return load_tree(root)


def load_tree(root: Node, only: str | None = None) -> Registry:
    """The registry under ``root/schemas``, on disk or in a git commit (``only``: one entry)."""
    registry = Registry(root)
    directory = registry.directory
    if not directory.is_dir() or not inside(directory, root):
        return registry
    defaults = directory / DEFAULTS
    if defaults.is_file():
        data = _load_yaml(registry, defaults, schemas.REGISTRY_DEFAULTS_SCHEMA)
        if data and "compatibility" in data:
            registry.default_mode = Mode(data["compatibility"])
    if only is not None:
        folder = directory / only
        if folder.is_dir():
            _load_entry(registry, folder)
        return registry
    folders: list[Node] = [p for p in directory.iterdir() if p.is_dir()]
    for folder in sorted(folders, key=str):
        _load_entry(registry, folder)
    return registry


def _load_entry(registry: Registry, folder: Node) -> None:
    schema_id = folder.name
    if not ID_PATTERN.match(schema_id):
        _problem(
            registry,
            folder,
            "FP410",
            f"'{schema_id}' is not a valid schema id",
            "use letters, digits, '.', '_' and '-'",
        )
        return
    if not inside(folder, registry.root):
        _problem(
            registry,
            folder,
            "FP410",
            "schema folder leaves the repository root",
            "replace the symlink with the folder",
        )
        return
    entry = Entry(schema_id, folder, compatibility=registry.default_mode)
    registry.entries[schema_id] = entry
    meta_path = folder / METADATA
    if not meta_path.is_file():
        entry.broken = True
        _problem(
            registry,
            folder,
            "FP410",
            f"schema '{schema_id}' has no {METADATA}",
            f"add {METADATA} with at least 'format:' and 'active:'",
        )
        return
    meta = _load_yaml(registry, meta_path, schemas.REGISTRY_METADATA_SCHEMA)
    if meta is None:
        entry.broken = True
        return
    entry.format = meta["format"]
    entry.compatibility = Mode(meta.get("compatibility", registry.default_mode))
    entry.active = meta["active"]
    entry.description = meta.get("description", "")
    entry.deprecated = meta.get("deprecated", False)
    extension = formats.EXTENSIONS[entry.format]
    children: list[Node] = list(folder.iterdir())
    for path in sorted(children, key=str):
        match = VERSION_FILE.match(path.name)
        if path.name == METADATA or match is None:
            continue
        if path.is_file() and not inside(path, registry.root):
            entry.broken = True
            _problem(
                registry,
                path,
                "FP410",
                f"'{path.name}' is a symlink out of the repository root; not read",
                "replace the symlink with the file",
            )
            continue
        if match.group(2) != extension.lstrip(".") or not path.is_file():
            entry.broken = True
            _problem(
                registry,
                path,
                "FP410",
                f"'{path.name}' is not a {entry.format} version file",
                f"versions of a {entry.format} schema are v<N>{extension}",
            )
            continue
        entry.versions[int(match.group(1))] = path
    expected = list(range(1, len(entry.versions) + 1))
    if sorted(entry.versions) != expected:
        entry.broken = True
        _problem(
            registry,
            folder,
            "FP410",
            f"versions of '{schema_id}' are {sorted(entry.versions)}; "
            "they must run 1..N without gaps",
            "versions are never deleted or renumbered",
        )
    if entry.active not in entry.versions:
        entry.broken = True
        _problem(
            registry,
            meta_path,
            "FP410",
            f"active version {entry.active} of '{schema_id}' does not exist",
            f"set active to one of {sorted(entry.versions) or 'the versions (none yet)'}",
        )


class Rejected(Exception):
    """A new version the registry refuses; ``conflict`` when the registry's state is why."""

    def __init__(self, message: str, *, conflict: bool = False, issues: Any = ()) -> None:
        super().__init__(message)
        self.conflict = conflict
        self.issues = list(issues)


def next_version(
    registry: Registry, schema_id: str, fmt: str, raw: bytes, mode: Mode | None = None
) -> tuple[Entry, int]:
    """The entry (new or existing, with ``mode`` applied) and the number ``raw`` would get,
    after the id, format and compatibility checks; :class:`Rejected` otherwise."""
    if not ID_PATTERN.match(schema_id):
        raise Rejected(
            f"'{schema_id}' is not a valid schema id: use letters, digits, '.', '_', '-'"
        )
    if fmt not in formats.EXTENSIONS:
        raise Rejected(f"unknown format '{fmt}' (one of {', '.join(formats.EXTENSIONS)})")
    entry = registry.entries.get(schema_id)
    if entry is None:
        entry = Entry(
            schema_id,
            registry.directory / schema_id,
            format=fmt,
            compatibility=mode or registry.default_mode,
        )
    elif entry.broken:
        raise Rejected(
            f"schema '{schema_id}' is invalid; run `flowpipe schema check`", conflict=True
        )
    elif entry.format != fmt:
        raise Rejected(f"schema '{schema_id}' is {entry.format}, not {fmt}", conflict=True)
    elif mode is not None:
        entry.compatibility = mode
    try:
        body = formats.check(fmt, raw)
    except formats.FormatError as exc:
        where = f" at line {exc.location.line}, column {exc.location.col}" if exc.location else ""
        raise Rejected(f"new version of '{schema_id}'{where}: {exc}") from None
    if fmt == "JSON":
        issues = check(entry.compatibility, body, entry.bodies_to_check())
        if issues:
            raise Rejected(
                f"new version of '{schema_id}' breaks {entry.compatibility.value} compatibility",
                conflict=True,
                issues=issues,
            )
    return entry, max(entry.versions, default=0) + 1


def metadata_bytes(entry: Entry, explicit_mode: bool) -> bytes:
    """``schema.yaml`` for ``entry``, canonical; the mode only when the schema sets its own."""
    from flowpipe_compiler import emit

    meta: dict[str, Any] = {"format": entry.format, "active": entry.active}
    if explicit_mode:
        meta["compatibility"] = entry.compatibility.value
    if entry.description:
        meta["description"] = entry.description
    if entry.deprecated:
        meta["deprecated"] = True
    return emit.to_yaml(meta).encode()


def check_entry(registry: Registry, entry: Entry) -> list[Diagnostic]:
    """Every version parses and passes its format's checks; each respects the mode."""
    out: list[Diagnostic] = []
    bodies: list[Any] = []
    for number in sorted(entry.versions):
        path = entry.versions[number]
        name = _display(path, registry.root)
        try:
            body = formats.check(entry.format, path.read_bytes())
        except formats.FormatError as exc:
            out.append(
                Diagnostic("FP411", Severity.ERROR, str(exc), name, exc.location, hint=exc.hint)
            )
            bodies.append(None)
            continue
        if entry.format == "JSON" and all(b is not None for b in bodies):
            for issue in check(entry.compatibility, body, bodies):
                out.append(
                    Diagnostic(
                        "FP412",
                        Severity.ERROR,
                        f"v{number} breaks {entry.compatibility.value} compatibility: "
                        f"{issue.message} [{issue.rule}]",
                        name,
                        None,
                        json_path=issue.reader_path,
                        hint=f"at {issue.reader_path} (this version) / {issue.writer_path} "
                        "(the earlier one); publish a compatible change, or a new schema id",
                    )
                )
        bodies.append(body)
    return out
