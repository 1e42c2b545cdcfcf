"""`flowpipe schema ...`: the registry in schemas/, read and written as files.

Writes are all-or-nothing: the new version file and the metadata are written to temporary
files and renamed into place only after every check passed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from flowpipe_compiler import emit, source
from flowpipe_compiler.check import FileResult
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.diagnostics import Diagnostic, FlowpipeError, SourceError
from flowpipe_compiler.registry import formats, history, store
from flowpipe_compiler.registry.compat import Mode
from flowpipe_compiler.registry.resolve import flows_using
from flowpipe_compiler.reporters import REPORTERS


def _registry(root: Path) -> store.Registry:
    store.load.cache_clear()  # the tree may have changed since it was read
    return store.load(root.resolve())


def _folder(entry: store.Entry) -> Path:
    """The entry's folder on disk (the CLI works on the working tree, never on git)."""
    assert isinstance(entry.path, Path)
    return entry.path


def _entry(registry: store.Registry, schema_id: str) -> store.Entry:
    entry = registry.entries.get(schema_id)
    if entry is None:
        known = ", ".join(sorted(registry.entries)) or "none"
        raise FlowpipeError(f"schema '{schema_id}' is not in the registry (known: {known})")
    if entry.broken:
        raise FlowpipeError(f"schema '{schema_id}' is invalid; run `flowpipe schema check`")
    return entry


def list_schemas(root: Path, schema_id: str | None, as_json: bool) -> int:
    registry = _registry(root)
    entries = [_entry(registry, schema_id)] if schema_id else list(registry.entries.values())
    rows = [
        {
            "schema_id": e.schema_id,
            "format": e.format,
            "compatibility": e.compatibility.value,
            "active": e.active,
            "versions": sorted(e.versions),
            "deprecated": e.deprecated,
            "valid": not e.broken,
        }
        for e in entries
    ]
    if as_json:
        sys.stdout.write(emit.to_json(rows))
        return Exit.OK
    for row in rows:
        flags = " (deprecated)" if row["deprecated"] else ""
        flags += "" if row["valid"] else " (INVALID: run flowpipe schema check)"
        sys.stdout.write(
            f"{row['schema_id']}  {row['format']}  {row['compatibility']}  "
            f"active v{row['active']} of {row['versions']}{flags}\n"
        )
    return Exit.OK


def get(root: Path, schema_id: str, version: int) -> int:
    entry = _entry(_registry(root), schema_id)
    number = version or entry.active
    if number not in entry.versions:
        raise FlowpipeError(
            f"schema '{schema_id}' has no version {number} ({sorted(entry.versions)})"
        )
    sys.stdout.buffer.write(entry.versions[number].read_bytes())
    return Exit.OK


def check_registry(root: Path, output_format: str, against: str | None) -> int:
    registry = _registry(root)
    diagnostics: list[Diagnostic] = list(registry.problems)
    for entry in registry.entries.values():
        if not entry.broken:
            diagnostics += store.check_entry(registry, entry)
    published = history.base(root, against)
    if published is not None:
        diagnostics += history.changed_versions(root, published)
    by_file: dict[str, FileResult] = {}
    for d in diagnostics:
        by_file.setdefault(d.file, FileResult(d.file)).diagnostics.append(d)
    results = list(by_file.values()) or [FileResult(store.DIRECTORY)]
    sys.stdout.write(REPORTERS[output_format](results))
    return Exit.FINDINGS if any(r.errors for r in results) else Exit.OK


def _write_atomically(path: Path, data: bytes) -> None:
    store.load.cache_clear()  # later reads in this process must see the change
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create(
    root: Path,
    schema_id: str,
    fmt: str,
    raw: bytes,
    *,
    activate: bool,
    mode: str | None,
    description: str | None,
) -> int:
    registry = _registry(root)
    existing = registry.entries.get(schema_id)
    try:
        entry, number = store.next_version(
            registry, schema_id, fmt, raw, Mode(mode) if mode else None
        )
    except store.Rejected as exc:
        lines = [
            f"\n  {i.rule}: {i.message} (new {i.reader_path}, old {i.writer_path})"
            for i in exc.issues
        ]
        written = "; nothing was written" if exc.issues else ""
        raise FlowpipeError(f"{exc}{written}{''.join(lines)}") from None
    explicit_mode = mode is not None or (existing is not None and _names_mode(entry))
    if activate or not entry.versions:
        entry.active = number
    if description is not None:
        entry.description = description
    folder = _folder(entry)
    folder.mkdir(parents=True, exist_ok=True)
    version_path = folder / f"v{number}{formats.EXTENSIONS[fmt]}"
    _write_atomically(version_path, raw)
    try:
        _write_atomically(folder / store.METADATA, store.metadata_bytes(entry, explicit_mode))
    except BaseException:
        version_path.unlink(missing_ok=True)
        raise
    sys.stdout.write(
        f"{schema_id} v{number} written ({version_path.relative_to(root)})"
        f"{'; active' if entry.active == number else ''}\n"
    )
    return Exit.OK


def _names_mode(entry: store.Entry) -> bool:
    try:
        meta = source.load("m", (_folder(entry) / store.METADATA).read_text(encoding="utf-8")).data
    except (OSError, SourceError):
        return False
    return isinstance(meta, dict) and "compatibility" in meta


def activate(root: Path, schema_id: str, version: int) -> int:
    entry = _entry(_registry(root), schema_id)
    if version not in entry.versions:
        raise FlowpipeError(
            f"schema '{schema_id}' has no version {version} ({sorted(entry.versions)})"
        )
    entry.active = version
    _write_atomically(
        _folder(entry) / store.METADATA, store.metadata_bytes(entry, _names_mode(entry))
    )
    sys.stdout.write(f"{schema_id}: v{version} is active\n")
    return Exit.OK


def delete(root: Path, schema_id: str) -> int:
    entry = _entry(_registry(root), schema_id)
    users = sorted(flows_using(root, schema_id))
    if users:
        raise FlowpipeError(
            f"schema '{schema_id}' is used by {', '.join(users)}; change those flows first"
        )
    shutil.rmtree(_folder(entry))
    store.load.cache_clear()
    sys.stdout.write(f"{schema_id} deleted\n")
    return Exit.OK
