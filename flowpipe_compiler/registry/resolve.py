"""Resolving a flow's queue schema references against the registry in the repository.

``version`` 0 or omitted means the schema's active version. The compiled spec embeds the
resolved version number and the body, so the runtime never calls a registry, and changing
the active version changes the compiled spec (and so restarts the flow). ``registry_url``
is kept as metadata and never fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowpipe_compiler.diagnostics import Severity
from flowpipe_compiler.findings import Findings, did_you_mean
from flowpipe_compiler.registry import store


def schema_refs(flow: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    queues = flow.get("queues")
    refs = []
    for index, queue in enumerate(queues if isinstance(queues, list) else []):
        schema = queue.get("schema") if isinstance(queue, dict) else None
        if isinstance(schema, dict) and isinstance(schema.get("schema_id"), str):
            refs.append((index, schema))
    return refs


def resolve(findings: Findings, flow: dict[str, Any], root: Path) -> dict[int, dict[str, Any]]:
    """For each queue index with a schema: ``{version, registry_format, body}``."""
    refs = schema_refs(flow)
    if not refs:
        return {}
    registry = store.load(root.resolve())
    resolved: dict[int, dict[str, Any]] = {}
    for index, ref in refs:
        at = ("queues", index, "schema")
        schema_id = ref["schema_id"]
        entry = registry.entries.get(schema_id)
        if entry is None or entry.broken:
            hint = (
                f"run `flowpipe schema check`: {store.DIRECTORY}/{schema_id}/ is invalid"
                if entry is not None
                else did_you_mean(schema_id, registry.entries)
                or f"add it: flowpipe schema create {schema_id} --format JSON --file <schema>"
            )
            state = "is invalid" if entry is not None else "is not in the registry"
            findings.add("FP401", f"schema '{schema_id}' {state}", (*at, "schema_id"), hint=hint)
            continue
        asked = ref.get("version") or 0
        version = asked if isinstance(asked, int) and asked else entry.active
        if version not in entry.versions:
            findings.add(
                "FP402",
                f"schema '{schema_id}' has no version {version}",
                (*at, "version"),
                hint=f"use one of {sorted(entry.versions)}, or 0 for the active version "
                f"({entry.active})",
            )
            continue
        if entry.deprecated:
            findings.add(
                "FP403",
                f"schema '{schema_id}' is deprecated",
                (*at, "schema_id"),
                hint=entry.description or "move the queue to its successor",
                severity=Severity.WARNING,
            )
        try:
            body = entry.body(version)
        except (OSError, ValueError) as exc:
            findings.add(
                "FP411",
                f"schema '{schema_id}' v{version} cannot be read: {exc}",
                (*at, "schema_id"),
                hint="run `flowpipe schema check`",
            )
            continue
        resolved[index] = {"version": version, "registry_format": entry.format, "body": body}
    return resolved


def flows_using(root: store.Node, schema_id: str) -> set[str]:
    """Flow files under ``root/flows`` (on disk or in a git commit) whose queues use
    ``schema_id``. Nothing outside ``root`` is read; a flow that does not parse is skipped
    (reporting it is ``validate``'s business)."""
    from flowpipe_compiler import source
    from flowpipe_compiler.check import FLOW_SUFFIXES
    from flowpipe_compiler.diagnostics import SourceError

    users: set[str] = set()
    pending = [root / "flows"]
    while pending:
        node = pending.pop()
        if node.name.startswith(".") or not store.inside(node, root):
            continue
        if node.is_dir():
            pending.extend(node.iterdir())
            continue
        if not (node.is_file() and node.name.endswith(FLOW_SUFFIXES)):
            continue
        name = str(node.relative_to(root))  # type: ignore[arg-type]
        try:
            doc = source.load(name, source.decode(name, node.read_bytes()))
        except (OSError, SourceError):
            continue
        if isinstance(doc.data, dict) and any(
            ref["schema_id"] == schema_id for _, ref in schema_refs(doc.data)
        ):
            users.add(name)
    return users
