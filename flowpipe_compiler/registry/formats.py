"""What the registry checks for each schema format.

- JSON (JSON Schema): valid JSON, valid against its metaschema (draft named by ``$schema``,
  2020-12 by default), ``$ref`` only to places inside the same document (no URLs, no files).
- AVRO: parsed with fastavro (names, types, defaults are checked).
- PROTOBUF, FLATBUFFERS, PARQUET: stored and versioned with a syntax-level check only:
  UTF-8 text, balanced braces, and the keyword a definition needs (``message``, ``table`` or
  ``struct``, ``message``). Their compatibility is not checked.
"""

from __future__ import annotations

from typing import Any

import orjson

from flowpipe_compiler.diagnostics import Location

EXTENSIONS = {
    "JSON": ".json",
    "AVRO": ".avsc",
    "PROTOBUF": ".proto",
    "FLATBUFFERS": ".fbs",
    "PARQUET": ".parquet-schema",
}
_KEYWORDS = {
    "PROTOBUF": ("message", "enum"),
    "FLATBUFFERS": ("table", "struct"),
    "PARQUET": ("message",),
}


class FormatError(Exception):
    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.location = location
        self.hint = hint


def parse(fmt: str, raw: bytes) -> Any:
    """The body as embedded in compiled specs: JSON data, or the text for other formats."""
    if fmt in ("JSON", "AVRO"):
        return orjson.loads(raw)
    return raw.decode("utf-8")


MAX_BYTES = 1024 * 1024
"""Largest schema version accepted."""


def check(fmt: str, raw: bytes) -> Any:
    """Parse and check one version body; the parsed body, or :class:`FormatError`."""
    if len(raw) > MAX_BYTES:
        raise FormatError(
            f"schema is larger than the {MAX_BYTES:,}-byte limit",
            hint="split it into several schemas",
        )
    if fmt in ("JSON", "AVRO"):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise FormatError(
                f"invalid JSON: {exc.msg}", Location(exc.lineno, exc.colno), "fix the JSON syntax"
            ) from None
        if fmt == "JSON":
            _check_json_schema(body)
        else:
            _check_avro(body)
        return body
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("not UTF-8 text", hint="save the file as UTF-8") from None
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        if depth < 0:
            raise FormatError("'}' without a matching '{'", Location(number, line.index("}") + 1))
    if depth:
        raise FormatError(f"{depth} unclosed '{{'", hint="close every block")
    if not any(keyword in text.split() for keyword in _KEYWORDS[fmt]):
        wanted = " or ".join(_KEYWORDS[fmt])
        raise FormatError(f"no {wanted} definition found", hint=f"define a {wanted}")
    return text


def _check_json_schema(body: Any) -> None:
    import jsonschema_rs

    if not isinstance(body, (dict, bool)):
        raise FormatError(
            "a JSON Schema is an object or a boolean", hint="wrap the definition in {...}"
        )
    for pointer, ref in _refs(body, ""):
        if not ref.startswith("#"):
            raise FormatError(
                f"$ref {ref!r} at {pointer or '/'} points outside this schema",
                hint="registry schemas may only refer inside themselves (#/$defs/...); "
                "URLs and files are never fetched",
            )
        _no_ref_loop(body, pointer, ref)
    try:
        jsonschema_rs.meta.validate(body)
    except jsonschema_rs.ValidationError as exc:
        where = "/" + "/".join(map(str, exc.instance_path))
        raise FormatError(
            f"not a valid JSON Schema at {where}: {exc.message}",
            hint="check it against the JSON Schema specification",
        ) from None
    except Exception as exc:  # unknown $schema draft and the like
        raise FormatError(f"not a valid JSON Schema: {exc}") from None
    try:
        jsonschema_rs.validator_for(body)
    except Exception as exc:  # unresolvable local $ref, bad regex
        raise FormatError(f"schema cannot be used: {exc}") from None


def _target(body: Any, ref: str) -> Any:
    node = body
    for part in ref.removeprefix("#").split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _no_ref_loop(body: Any, pointer: str, ref: str) -> None:
    """Refuse a chain of bare ``$ref``s that comes back to itself: it describes nothing and
    sends validators round in circles. (Recursion through properties or items is fine.)"""
    seen = {ref}
    node = _target(body, ref)
    while (
        isinstance(node, dict)
        and isinstance(node.get("$ref"), str)
        and not (set(node) - {"$ref", "title", "description", "$comment"})
    ):
        ref = node["$ref"]
        if ref in seen:
            raise FormatError(
                f"$ref cycle at {pointer or '/'}: {' -> '.join(sorted(seen))}",
                hint="a $ref must reach a real schema",
            )
        seen.add(ref)
        node = _target(body, ref)


def _refs(node: Any, pointer: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    stack = [(node, pointer)]
    while stack:
        current, at = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str):
                found.append((at, ref))
            stack.extend((v, f"{at}/{k}") for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((v, f"{at}/{i}") for i, v in enumerate(current))
    return found


def _check_avro(body: Any) -> None:
    from fastavro import parse_schema
    from fastavro.schema import SchemaParseException, UnknownType

    try:
        parse_schema(body)
    except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError) as exc:
        raise FormatError(
            f"not a valid Avro schema: {exc}", hint="check names, types and defaults"
        ) from None
