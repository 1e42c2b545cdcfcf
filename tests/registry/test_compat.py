"""JSON Schema compatibility: one case per rule, and properties over generated schemas."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpipe_compiler.registry.compat import Mode, check, readable

OBJ = {"type": "object"}


def obj(props: dict[str, Any], required: list[str] | None = None, extra: Any = None) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if extra is not None:
        schema["additionalProperties"] = extra
    return schema


INT, NUM, STR = {"type": "integer"}, {"type": "number"}, {"type": "string"}

# (name, old, new, backward-compatible rules broken (empty: compatible))
CASES = [
    ("identical", obj({"a": INT}), obj({"a": INT}), []),
    (
        "annotations only",
        obj({"a": INT}),
        {**obj({"a": {**INT, "description": "x"}}), "title": "T"},
        [],
    ),
    ("widen integer to number", obj({"a": INT}), obj({"a": NUM}), []),
    ("narrow number to integer", obj({"a": NUM}), obj({"a": INT}), ["TYPE_CHANGED"]),
    ("change type", obj({"a": INT}), obj({"a": STR}), ["TYPE_CHANGED"]),
    ("add type union member", obj({"a": INT}), obj({"a": {"type": ["integer", "null"]}}), []),
    ("enum widened", {"enum": ["a"]}, {"enum": ["a", "b"]}, []),
    ("enum narrowed", {"enum": ["a", "b"]}, {"enum": ["a"]}, ["ENUM_NARROWED"]),
    ("enum added", STR, {**STR, "enum": ["a"]}, ["ENUM_NARROWED"]),
    (
        "optional property added, closed writer",
        obj({}, extra=False),
        obj({"b": INT}, extra=False),
        [],
    ),
    (
        "property added to open writer",
        obj({}),
        obj({"b": INT}),
        ["PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"],
    ),
    (
        "property added matching partially open writer",
        obj({}, extra=INT),
        obj({"b": NUM}, extra=INT),
        [],
    ),
    (
        "property added against partially open writer",
        obj({}, extra=STR),
        obj({"b": INT}, extra=STR),
        ["TYPE_CHANGED"],
    ),
    (
        "required added without default",
        obj({"a": INT}, extra=False),
        obj({"a": INT}, ["a"], extra=False),
        ["REQUIRED_PROPERTY_ADDED"],
    ),
    (
        "required added with default",
        obj({"a": INT}, extra=False),
        obj({"a": {**INT, "default": 0}}, ["a"], extra=False),
        [],
    ),
    ("required removed", obj({"a": INT}, ["a"]), obj({"a": INT}), []),
    ("property removed from open reader", obj({"a": INT}), obj({}), []),
    (
        "property removed from closed reader",
        obj({"a": INT}, extra=False),
        obj({}, extra=False),
        ["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"],
    ),
    (
        "content model closed",
        obj({"a": INT}),
        obj({"a": INT}, extra=False),
        ["ADDITIONAL_PROPERTIES_NARROWED"],
    ),
    ("content model opened", obj({"a": INT}, extra=False), obj({"a": INT}), []),
    (
        "additionalProperties schema narrowed",
        obj({}, extra=NUM),
        obj({}, extra=INT),
        ["TYPE_CHANGED"],
    ),
    (
        "minLength raised",
        {**STR, "minLength": 1},
        {**STR, "minLength": 2},
        ["CONSTRAINT_TIGHTENED"],
    ),
    ("maxLength relaxed", {**STR, "maxLength": 5}, {**STR, "maxLength": 9}, []),
    ("maximum added", INT, {**INT, "maximum": 10}, ["CONSTRAINT_TIGHTENED"]),
    ("minimum relaxed", {**INT, "minimum": 5}, {**INT, "minimum": 0}, []),
    (
        "minItems raised",
        {"type": "array", "minItems": 0},
        {"type": "array", "minItems": 1},
        ["CONSTRAINT_TIGHTENED"],
    ),
    ("items widened", {"type": "array", "items": INT}, {"type": "array", "items": NUM}, []),
    (
        "items narrowed",
        {"type": "array", "items": NUM},
        {"type": "array", "items": INT},
        ["TYPE_CHANGED"],
    ),
    ("pattern added", STR, {**STR, "pattern": "^a"}, ["PATTERN_CHANGED"]),
    ("pattern removed", {**STR, "pattern": "^a"}, STR, []),
    (
        "nested property narrowed",
        obj({"o": obj({"x": NUM})}),
        obj({"o": obj({"x": INT})}),
        ["TYPE_CHANGED"],
    ),
    ("unknown keyword changed", {"anyOf": [INT]}, {"anyOf": [STR]}, ["UNSUPPORTED_CHANGE"]),
]


@pytest.mark.parametrize(("name", "old", "new", "broken"), CASES, ids=[c[0] for c in CASES])
def test_backward_rules(name: str, old: dict, new: dict, broken: list[str]) -> None:
    found = readable(new, old)
    assert sorted({i.rule for i in found}) == broken
    for issue in found:
        assert issue.reader_path.startswith("/") and issue.writer_path.startswith("/")


def test_paths_name_both_versions() -> None:
    old = obj({"o": obj({"x": NUM})})
    new = obj({"o": obj({"x": INT})})
    (issue,) = readable(new, old)
    assert issue.reader_path == "/properties/o/properties/x"
    assert issue.writer_path == "/properties/o/properties/x"


def test_modes_direction_and_transitivity() -> None:
    v1 = obj({"a": INT}, extra=False)
    v2 = obj({"a": INT, "b": STR}, extra=False)  # optional field added
    v3 = obj({"b": STR}, extra=False)  # 'a' removed
    assert check(Mode.BACKWARD, v2, [v1]) == []
    assert check(Mode.FORWARD, v2, [v1]) != []  # v1 (closed) cannot read records with 'b'
    assert check(Mode.NONE, v3, [v1, v2]) == []
    # v3 reads v2's records? no: v2 records carry 'a', v3 is closed.
    assert check(Mode.BACKWARD, v3, [v1, v2]) != []
    v3_open = obj({"b": STR})
    assert check(Mode.BACKWARD, v3_open, [v2]) == []
    assert check(Mode.BACKWARD_TRANSITIVE, v3_open, [v1, v2]) == []
    v4 = obj({"a": STR}, extra=False)
    previous = obj({}, extra=False)
    assert check(Mode.BACKWARD, v4, [v1, previous]) == []  # only against the previous one
    assert check(Mode.BACKWARD_TRANSITIVE, v4, [v1, previous]) != []


# -- properties ------------------------------------------------------------------------------

leaf = st.sampled_from(
    [
        INT,
        NUM,
        STR,
        {"type": "boolean"},
        {"type": ["integer", "null"]},
        {**INT, "minimum": 0},
        {**INT, "maximum": 10},
        {**STR, "maxLength": 3},
        {"enum": ["a", "b"]},
        {"enum": ["a"]},
    ]
)


@st.composite
def object_schemas(draw: st.DrawFn, depth: int = 2) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3))
    child = object_schemas(depth - 1) if depth > 1 else leaf
    props = {n: draw(st.one_of(leaf, child) if depth > 1 else leaf) for n in names}
    required = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    extra = draw(st.sampled_from([None, False, True, INT]))
    return obj(props, required, extra)


@given(object_schemas())
def test_a_schema_is_compatible_with_itself(schema: dict) -> None:
    for mode in Mode:
        assert check(mode, schema, [schema]) == []


@given(object_schemas(), object_schemas())
def test_backward_a_to_b_equals_forward_b_to_a(a: dict, b: dict) -> None:
    assert check(Mode.BACKWARD, b, [a]) == check(Mode.FORWARD, a, [b])


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))


@st.composite
def records(draw: st.DrawFn, schema: dict[str, Any]) -> Any:
    """A record valid under ``schema`` (the shapes object_schemas generates)."""
    if "enum" in schema:
        return draw(st.sampled_from(schema["enum"]))
    kind = schema["type"]
    if isinstance(kind, list):
        kind = draw(st.sampled_from(kind))
    if kind == "integer":
        return draw(st.integers(schema.get("minimum"), schema.get("maximum")))
    if kind == "number":
        return draw(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
    if kind == "string":
        return draw(st.text(max_size=schema.get("maxLength", 8)))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "null":
        return None
    out = {}
    for name, sub in schema["properties"].items():
        if name in schema.get("required", []) or draw(st.booleans()):
            out[name] = draw(records(sub))
    extra = schema.get("additionalProperties", True)
    if extra is not False:
        values = JSON_VALUES if extra is True else records(extra)
        for key in draw(st.lists(st.sampled_from(["a", "b", "c", "z"]), unique=True)):
            if key not in schema["properties"]:
                out[key] = draw(values)
    return out


@given(object_schemas(), object_schemas(), st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_compatible_means_every_written_record_is_readable(
    writer: dict, reader: dict, data: st.DataObject
) -> None:
    """Soundness: when the check says 'compatible', records valid for the writer validate
    against the reader."""
    if readable(reader, writer):
        return
    validator = jsonschema_rs.validator_for(reader)
    for _ in range(5):
        record = data.draw(records(writer))
        assert jsonschema_rs.validator_for(writer).is_valid(record)
        assert validator.is_valid(record), (record, writer, reader)
