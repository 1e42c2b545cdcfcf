"""Deterministic text for data: sorted keys, fixed layout, no timestamps.

``to_yaml`` writes JSON-like data (dicts, lists, strings, numbers, booleans, null) as block
YAML. It is ours, not a library's, because it is on the compile hot path (a thousand flows
emit six thousand documents) and PyYAML's representer took 2 ms a document; this takes
about 0.1 ms. It quotes conservatively: a string is written plain only when every YAML
reader, 1.1 or 1.2, reads it back as the same string; anything else is a JSON string,
which YAML reads as a double-quoted scalar. A property test checks the round trip.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import orjson

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
# Not printable in YAML, or a line break to YAML (NEL, LS, PS) that JSON leaves raw.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def to_yaml_stream(documents: list[Any]) -> str:
    """Several documents in one YAML stream (``---`` between them)."""
    return "---\n".join(to_yaml(document) for document in documents)


def to_json(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


@lru_cache(maxsize=65536)
def _string(text: str) -> str:
    """Label keys, image names and the like repeat across thousands of objects: remember."""
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    quoted = orjson.dumps(text).decode()  # JSON escapes C0 controls; YAML also bars these:
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _scalar(value: Any) -> str:
    if type(value) is str:
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        # YAML 1.1 floats need a dot: 1e-05 would read back as a string there.
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    return _string(str(value))


def _block(value: Any, lines: list[str], indent: str) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            head = f"{indent}{_scalar(str(key))}:"
            if isinstance(item, dict) and item:
                lines.append(head)
                _block(item, lines, indent + "  ")
            elif isinstance(item, list) and item:
                lines.append(head)
                _block(item, lines, indent)
            else:
                lines.append(f"{head} {_inline(item)}")
        return
    for item in value:
        if isinstance(item, (dict, list)) and item:
            nested: list[str] = []
            _block(item, nested, "")
            lines.append(f"{indent}- {nested[0]}")
            lines.extend(f"{indent}  {line}" for line in nested[1:])
        else:
            lines.append(f"{indent}- {_inline(item)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def to_yaml(data: Any) -> str:
    """Block-style YAML with sorted keys (a document whose top is a mapping or a list)."""
    if not isinstance(data, (dict, list)) or not data:
        return _inline(data) + "\n"
    lines: list[str] = []
    _block(data, lines, "")
    return "\n".join(lines) + "\n"
