"""JSON Schema compatibility, with Confluent Schema Registry's meaning of the modes.

Everything rests on one question, :func:`readable`: can a consumer using schema ``reader``
read every record valid under ``writer``? (In set terms: is writer's language inside
reader's?) The modes then ask it in one direction or both:

- BACKWARD: the new version reads data written with the previous one (reader = new);
- FORWARD: the previous version reads data written with the new one (reader = old);
- FULL: both; ``*_TRANSITIVE``: against every earlier version, not only the previous one;
- NONE: no check.

The rules follow Confluent's JSON Schema rules: the content model of an object is *open*
(``additionalProperties`` absent or true: any other property, of any type, may appear),
*closed* (false) or *partially open* (a schema other properties must match). A property a
reader adds is fine when the writer's records can never carry it (closed model) unless the
reader requires it without a default; a property removed from a closed reader breaks.
Annotations (title, description, default, examples, ...) never matter. Where a change cannot
be decided (two different ``pattern``s, changed combinators), it is reported as breaking:
the check is conservative.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any] | bool


class Mode(enum.StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))


@dataclass(frozen=True, slots=True)
class Incompatibility:
    rule: str
    message: str
    reader_path: str
    """JSON pointer into the reader schema."""
    writer_path: str
    """JSON pointer into the writer schema."""


_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "format",
    }
)
# (keyword, the reader's bound must be at most (-1) / at least (+1) the writer's)
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_HANDLED = (
    _ANNOTATIONS
    | set(_LOWER_BOUNDS)
    | set(_UPPER_BOUNDS)
    | {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "pattern",
        "multipleOf",
        "uniqueItems",
    }
)


def readable(reader: Schema, writer: Schema) -> list[Incompatibility]:
    """Why ``reader`` cannot read every record valid under ``writer`` (empty: it can)."""
    out: list[Incompatibility] = []
    _check(reader, writer, "", "", out)
    return out


def check(mode: Mode, new: Schema, earlier: list[Schema]) -> list[Incompatibility]:
    """Incompatibilities of ``new`` against ``earlier`` versions (oldest first) under ``mode``."""
    if mode is Mode.NONE or not earlier:
        return []
    against = earlier if mode.transitive else earlier[-1:]
    found: list[Incompatibility] = []
    for old in against:
        if mode.backward:
            found += readable(new, old)
        if mode.forward:
            found += readable(old, new)
    return found


def _types(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _accepts_type(reader: set[str], writer_type: str) -> bool:
    return writer_type in reader or (writer_type == "integer" and "number" in reader)


def _check(reader: Schema, writer: Schema, rp: str, wp: str, out: list[Incompatibility]) -> None:
    def fail(rule: str, message: str, r: str = rp, w: str = wp) -> None:
        out.append(Incompatibility(rule, message, r or "/", w or "/"))

    if writer is False or reader is True or reader == {}:
        return
    if reader is False:
        fail("SCHEMA_NARROWED", "the reader accepts nothing")
        return
    if writer is True:
        writer = {}
    assert isinstance(reader, dict) and isinstance(writer, dict)
    if reader == writer:
        return

    reader_types, writer_types = _types(reader), _types(writer)
    if reader_types is not None:
        if writer_types is None:
            fail("TYPE_NARROWED", f"the reader restricts the type to {sorted(reader_types)}")
        else:
            lost = sorted(t for t in writer_types if not _accepts_type(reader_types, t))
            if lost:
                fail(
                    "TYPE_CHANGED",
                    f"records of type {', '.join(lost)} no longer readable "
                    f"(reader: {sorted(reader_types)})",
                )

    _check_enum(reader, writer, fail)
    _check_bounds(reader, writer, fail)
    _check_strings_and_numbers(reader, writer, fail)
    _check_object(reader, writer, rp, wp, out, fail)
    if "items" in reader and isinstance(reader["items"], (dict, bool)):
        writer_items = writer.get("items", True)
        _check(reader["items"], writer_items, f"{rp}/items", f"{wp}/items", out)

    for keyword in sorted((set(reader) | set(writer)) - _HANDLED):
        if reader.get(keyword) != writer.get(keyword) and keyword in reader:
            fail("UNSUPPORTED_CHANGE", f"'{keyword}' changed; its effect is not analysed")


def _check_enum(reader: dict[str, Any], writer: dict[str, Any], fail: Any) -> None:
    if "const" in reader:
        allowed = [reader["const"]]
    elif "enum" in reader:
        allowed = list(reader["enum"])
    else:
        return
    if "const" in writer:
        written: list[Any] | None = [writer["const"]]
    else:
        written = list(writer["enum"]) if "enum" in writer else None
    if written is None:
        fail("ENUM_NARROWED", "the reader restricts values to an enum the writer does not have")
        return
    missing = [v for v in written if v not in allowed]
    if missing:
        fail("ENUM_NARROWED", f"values {missing} are no longer allowed")


def _check_bounds(reader: dict[str, Any], writer: dict[str, Any], fail: Any) -> None:
    for keyword in _LOWER_BOUNDS:
        if keyword in reader and (keyword not in writer or writer[keyword] < reader[keyword]):
            was = writer.get(keyword, "none")
            fail("CONSTRAINT_TIGHTENED", f"{keyword} raised from {was} to {reader[keyword]}")
    for keyword in _UPPER_BOUNDS:
        if keyword in reader and (keyword not in writer or writer[keyword] > reader[keyword]):
            was = writer.get(keyword, "none")
            fail("CONSTRAINT_TIGHTENED", f"{keyword} lowered from {was} to {reader[keyword]}")


def _check_strings_and_numbers(reader: dict[str, Any], writer: dict[str, Any], fail: Any) -> None:
    if "pattern" in reader and reader["pattern"] != writer.get("pattern"):
        fail("PATTERN_CHANGED", f"pattern {reader['pattern']!r} added or changed")
    if "multipleOf" in reader:
        step, written = reader["multipleOf"], writer.get("multipleOf")
        if written is None or (written / step) != int(written / step):
            fail("CONSTRAINT_TIGHTENED", f"multipleOf {step} does not divide {written}")
    if reader.get("uniqueItems") and not writer.get("uniqueItems"):
        fail("CONSTRAINT_TIGHTENED", "uniqueItems added")


def _content_model(schema: dict[str, Any]) -> Schema:
    extra = schema.get("additionalProperties", True)
    return extra if isinstance(extra, (bool, dict)) else True


def _check_object(
    reader: dict[str, Any],
    writer: dict[str, Any],
    rp: str,
    wp: str,
    out: list[Incompatibility],
    fail: Any,
) -> None:
    reader_props: dict[str, Schema] = reader.get("properties", {})
    writer_props: dict[str, Schema] = writer.get("properties", {})
    reader_extra, writer_extra = _content_model(reader), _content_model(writer)
    reader_required = set(reader.get("required", []))
    writer_required = set(writer.get("required", []))
    for name, sub in reader_props.items():
        r_at = f"{rp}/properties/{name}"
        if name in writer_props:
            _check(sub, writer_props[name], r_at, f"{wp}/properties/{name}", out)
        elif writer_extra is False:
            pass  # the writer's records never carry it
        elif writer_extra is True:
            if sub not in (True, {}):
                fail(
                    "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
                    f"property '{name}' added, but the writer's open content model lets "
                    "records carry it with any value",
                    r=r_at,
                )
        else:
            _check(sub, writer_extra, r_at, f"{wp}/additionalProperties", out)
    for name in sorted(reader_required - writer_required):
        sub = reader_props.get(name, {})
        if isinstance(sub, dict) and "default" in sub:
            continue  # Confluent: a required property with a default stays compatible
        fail(
            "REQUIRED_PROPERTY_ADDED",
            f"property '{name}' is now required, without a default",
            r=f"{rp}/required",
            w=f"{wp}/required",
        )
    for name, sub in writer_props.items():
        if name in reader_props:
            continue
        w_at = f"{wp}/properties/{name}"
        if reader_extra is False:
            fail(
                "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                f"property '{name}' removed while the reader allows no other properties",
                r=f"{rp}/additionalProperties",
                w=w_at,
            )
        elif isinstance(reader_extra, dict):
            _check(reader_extra, sub, f"{rp}/additionalProperties", w_at, out)
    if reader_extra is False and writer_extra is not False:
        fail(
            "ADDITIONAL_PROPERTIES_NARROWED",
            "the reader closed the content model (additionalProperties: false)",
            r=f"{rp}/additionalProperties",
        )
    elif isinstance(reader_extra, dict):
        _check(
            reader_extra,
            writer_extra,
            f"{rp}/additionalProperties",
            f"{wp}/additionalProperties",
            out,
        )
