"""Finding flow files and checking each one, past any number of bad ones.

Paths are confined to the repository root: a path or symlink that resolves outside it is
reported, never read. Each file goes through: decode -> load -> flow schema -> stage
catalogue -> semantics -> (when clean) normalisation into the compiled spec.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpipe_compiler import catalogue, schema_check, schemas, semantics, source
from flowpipe_compiler.diagnostics import Diagnostic, Location, Severity, SourceError
from flowpipe_compiler.findings import Findings
from flowpipe_compiler.normalize import normalize
from flowpipe_compiler.registry.resolve import resolve

FLOW_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(slots=True)
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    spec: dict[str, Any] | None = None
    """The compiled spec, present when the file has no errors."""
    text: str | None = None
    """The decoded source, for reporters that quote it."""

    @property
    def errors(self) -> int:
        return sum(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)


def repo_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` holding ``.git``, else ``start`` itself."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def display(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        return path.as_posix()


def _problem(path: Path, code: str, message: str, hint: str) -> FileResult:
    return FileResult(
        display(path),
        [Diagnostic(code, Severity.ERROR, message, display(path), None, hint=hint)],
    )


def discover(targets: list[str], root: Path) -> tuple[list[Path], list[FileResult]]:
    """Flow files under ``targets`` (sorted, de-duplicated) and the problems met on the way."""
    root = root.resolve()
    files: list[Path] = []
    problems: list[FileResult] = []
    for target in targets:
        path = Path(target)
        if not os.path.lexists(path):
            problems.append(_problem(path, "FP008", "no such file or directory", "check the path"))
            continue
        if not path.resolve().is_relative_to(root):
            problems.append(
                _problem(
                    path,
                    "FP008",
                    f"path resolves outside the repository root {root}",
                    "pass paths inside the repository, or set --root",
                )
            )
            continue
        if not path.is_dir():
            files.append(path)
            continue
        found = _walk(path, root, problems)
        if not found:
            problems.append(
                _problem(
                    path,
                    "FP009",
                    "directory holds no flow files (*.yaml, *.yml, *.json)",
                    "add a flow file, or pass another directory",
                )
            )
        files.extend(found)
    unique = list(dict.fromkeys(files))
    return unique, problems


def _walk(directory: Path, root: Path, problems: list[FileResult]) -> list[Path]:
    found: list[Path] = []
    for current, dirs, names in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(current, name)
            if not name.endswith(FLOW_SUFFIXES):
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                problems.append(
                    _problem(
                        path,
                        "FP008",
                        "symlink points outside the repository root; not followed",
                        "replace the symlink with the file",
                    )
                )
                continue
            found.append(path)
    return found


def check_file(path: Path, root: Path, *, compile_spec: bool = True) -> FileResult:
    if not path.is_file():  # a FIFO or device would block or never end
        kind = (
            "a broken symlink" if path.is_symlink() and not path.exists() else "not a regular file"
        )
        return _problem(path, "FP008", f"cannot read: {kind}", "pass a flow file")
    try:
        if path.stat().st_size > source.MAX_FILE_BYTES:
            raw = path.open("rb").read(source.MAX_FILE_BYTES + 1)
        else:
            raw = path.read_bytes()
    except OSError as exc:
        return _problem(path, "FP008", f"cannot read: {exc.strerror or exc}", "check permissions")
    return check_bytes(display(path), raw, path.stem, root, compile_spec=compile_spec)


def check_bytes(
    name: str, raw: bytes, stem: str, root: Path, *, compile_spec: bool = True
) -> FileResult:
    """Check one flow given as bytes; ``name`` is how diagnostics refer to it, ``root`` is
    the repository whose schema registry its queues refer to.

    With ``compile_spec``, a flow without errors also gets its compiled spec.
    """
    result = FileResult(name)
    try:
        result.text = source.decode(name, raw)
        doc = _load(name, result.text)
    except SourceError as exc:
        result.diagnostics.append(
            Diagnostic(exc.code, Severity.ERROR, exc.message, name, exc.location, hint=exc.hint)
        )
        return result
    findings = Findings(doc)
    flow = doc.data
    if flow is None:
        findings.add("FP005", "file holds no flow", hint="add at least 'stages:'")
    elif not isinstance(flow, dict):
        findings.add(
            "FP004",
            f"top level is {schema_check.type_name(flow)}; a flow is a mapping",
            hint="start the file with 'name:' and 'stages:'",
        )
    else:
        schema_check.report(
            findings,
            schemas.validator(schemas.FLOW_SCHEMA),
            schemas.load(schemas.FLOW_SCHEMA),
            flow,
        )
        kinds = catalogue.check_stages(findings, flow)
        flow_name = semantics.flow_name(findings, flow, stem)
        semantics.check(findings, flow, kinds)
        queue_schemas = resolve(findings, flow, root)
        if compile_spec and not findings.has_errors:
            result.spec = normalize(flow, flow_name, kinds, queue_schemas)
    result.diagnostics = sorted(
        findings.items, key=lambda d: (d.location.line, d.location.col) if d.location else (0, 0)
    )
    return result


def _load(name: str, text: str) -> source.Document:
    if not name.endswith(".json"):
        return source.load(name, text)
    import orjson

    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SourceError(
            "FP001",
            f"invalid JSON: {exc.msg}",
            Location(exc.lineno, exc.colno),
            hint="fix the JSON syntax here",
        ) from None
    try:
        return source.load(name, text)  # for positions: JSON is YAML 1.2
    except SourceError:
        return source.Document(name, text, data)  # e.g. tabs: valid JSON, not valid YAML


def check_paths(targets: list[str], root: Path, *, compile_spec: bool = True) -> list[FileResult]:
    files, problems = discover(targets, root)
    return problems + [check_file(path, root, compile_spec=compile_spec) for path in files]
