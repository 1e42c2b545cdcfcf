"""The compiled spec: a valid flow with defaults filled and every enum spelled canonically.

Defaults and canonical names are read from the flow schema (``default``,
``x-flowpipe-zero-means-default``, ``x-flowpipe-canonical``) and, for stage config, from the
stage catalogue: there is no second table of them here. The result is the runtime's input
contract, described by ``compiled-flow.schema.json`` and versioned by ``format_version``.
"""

from __future__ import annotations

import copy
from typing import Any

from flowpipe_compiler import schemas
from flowpipe_compiler.catalogue import Kind, types

FORMAT_VERSION = 1


def canonical(definition: str, value: Any) -> Any:
    """Canonical spelling of an enum value of ``$defs/<definition>`` (unchanged if unknown)."""
    mapping = schemas.load(schemas.FLOW_SCHEMA)["$defs"][definition]["x-flowpipe-canonical"]
    return mapping.get(value, value) if isinstance(value, str) else value


def normalize(
    flow: dict[str, Any],
    name: str,
    kinds: dict[int, Kind],
    queue_schemas: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The compiled spec; ``queue_schemas`` are the resolved registry references by queue."""
    root = schemas.load(schemas.FLOW_SCHEMA)
    spec: dict[str, Any] = fill(root, root, copy.deepcopy(flow))
    spec["name"] = name
    known = types()
    for index, stage in enumerate(spec["stages"]):
        stage["kind"] = kinds[index]
        stage_type = known.get(stage["type"])
        if stage_type is not None:
            stage["config"] = fill(stage_type.config, stage_type.config, stage["config"])
    for index, resolved in (queue_schemas or {}).items():
        spec["queues"][index]["schema"].update(resolved)
    return {"format_version": FORMAT_VERSION, **spec}


def fill(root: dict[str, Any], schema: dict[str, Any], value: Any) -> Any:
    """``value`` with defaults filled and enums made canonical, following ``schema``."""
    node = schemas.resolve(root, schema)
    canonical_names = node.get("x-flowpipe-canonical")
    if canonical_names is not None and isinstance(value, str):
        return canonical_names.get(value, value)
    if isinstance(value, dict):
        properties = node.get("properties", {})
        for key, sub in properties.items():
            sub = schemas.resolve(root, sub)
            if key in value:
                if value[key] == 0 and sub.get("x-flowpipe-zero-means-default"):
                    value[key] = sub["default"]
                value[key] = fill(root, sub, value[key])
            elif "default" in sub:
                value[key] = fill(root, sub, copy.deepcopy(sub["default"]))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value.keys() - properties.keys():
                value[key] = fill(root, extra, value[key])
        return value
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [fill(root, node["items"], item) for item in value]
    return value
