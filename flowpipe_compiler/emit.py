"""Deterministic text for data: sorted keys, fixed layout, no timestamps."""

from __future__ import annotations

import io
from typing import Any

import orjson


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def to_json(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def to_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.allow_unicode = True
    yaml.Representer.sort_base_mapping_type_on_output = False
    out = io.StringIO()
    yaml.dump(_sorted(data), out)
    return out.getvalue()
