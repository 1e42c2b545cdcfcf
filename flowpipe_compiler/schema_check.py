"""Turning JSON Schema violations into located, coded diagnostics.

The validator (jsonschema-rs: about 10 us per flow) reports an instance path and the schema
location; we pick the code from the keyword and from where in the flow it happened, point at
the key for unknown fields, and suggest the nearest valid spelling.
"""

from __future__ import annotations

from typing import Any

from flowpipe_compiler import schemas
from flowpipe_compiler.diagnostics import Path
from flowpipe_compiler.findings import Findings, did_you_mean

_RANGE = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "multipleOf",
}

_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _special_code(keyword: str, path: Path, prefix: Path) -> str | None:
    """Codes for the constraints the flow spec names on their own (issue: semantic checks)."""
    if prefix:
        return None
    shape = tuple("*" if isinstance(p, int) else p for p in path)
    if keyword == "pattern" and shape == ("name",):
        return "FP201"
    if keyword in ("pattern", "maxLength") and shape in (
        ("stages", "*", "name"),
        ("queues", "*", "name"),
    ):
        return "FP202"
    if keyword in ("pattern", "maxLength") and shape in (
        ("stages", "*", "input_queue"),
        ("stages", "*", "output_queue"),
    ):
        return "FP202"
    if keyword == "minItems" and shape == ("stages",):
        return "FP205"
    if keyword in ("minimum", "maximum") and shape == ("stages", "*", "threads"):
        return "FP207"
    return None


def report(
    findings: Findings,
    validator: Any,
    root_schema: dict[str, Any],
    instance: Any,
    prefix: Path = (),
    code_for_all: str | None = None,
) -> None:
    """Validate ``instance`` (found at ``prefix`` in the document) and add its violations."""
    for error in validator.iter_errors(instance):
        path: Path = (*prefix, *error.instance_path)
        keyword = error.kind.name
        hint: str | None
        where = str(path[-1]) if path else "flow"
        subschema = schemas.at_path(root_schema, list(error.schema_path)[:-1])
        if keyword == "additionalProperties":
            allowed = sorted(subschema.get("properties", {}))
            for name in error.kind.unexpected:
                hint = did_you_mean(name, allowed) or (
                    "allowed fields: " + ", ".join(allowed) if allowed else "remove it"
                )
                findings.add(
                    code_for_all or "FP100",
                    f"unknown field '{name}'",
                    (*path, name),
                    at_key=True,
                    hint=hint,
                )
            continue
        if keyword == "required":
            missing = error.kind.property
            is_stage = not prefix and len(path) == 2 and path[0] == "stages"
            code = "FP206" if is_stage and missing == "type" else "FP102"
            described = subschema.get("properties", {}).get(missing, {})
            findings.add(
                code_for_all or code,
                f"missing required field '{missing}'",
                path,
                hint=f"add '{missing}': {described.get('description', '')}".rstrip(": "),
            )
            continue
        if keyword == "propertyNames":
            bad_key = error.kind.error.instance
            findings.add(
                code_for_all or "FP105",
                f"key '{bad_key}' is not allowed here",
                (*path, str(bad_key)),
                at_key=True,
                hint=_described(root_schema, error.schema_path),
            )
            continue
        value = error.instance
        special = _special_code(keyword, path, prefix)
        if keyword == "type":
            expected = " or ".join(error.kind.types)
            hint = None
            if "string" in error.kind.types and isinstance(value, (int, float, bool)):
                hint = f'quote the value to make it a string: "{_yaml_text(value)}"'
            findings.add(
                code_for_all or "FP101",
                f"{where}: expected {expected}, got {type_name(value)}",
                path,
                hint=hint,
            )
        elif keyword == "enum":
            options = [str(o) for o in error.kind.options]
            canonical = subschema.get("x-flowpipe-canonical")
            shown = sorted(set(canonical.values())) if canonical else options
            suggestion = did_you_mean(str(value), options) if isinstance(value, str) else None
            findings.add(
                code_for_all or "FP103",
                f"{where}: {value!r} is not one of {', '.join(shown)}",
                path,
                hint=suggestion or (f"use one of {', '.join(shown)}"),
            )
        elif keyword in _RANGE:
            findings.add(
                code_for_all or special or "FP104",
                f"{where}: {error.message}",
                path,
                hint=_described(root_schema, error.schema_path),
            )
        elif keyword in ("pattern", "format"):
            findings.add(
                code_for_all or special or "FP105",
                f"{where}: {value!r} does not have the required form",
                path,
                hint=_described(root_schema, error.schema_path),
            )
        else:
            findings.add(code_for_all or "FP199", f"{where}: {error.message}", path)


def _described(root: dict[str, Any], schema_path: Any) -> str | None:
    """The description nearest to the failing keyword, looking outwards."""
    parts = list(schema_path)[:-1]
    while parts:
        description = schemas.at_path(root, parts).get("description")
        if description:
            return str(description)
        parts.pop()
    return None


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
