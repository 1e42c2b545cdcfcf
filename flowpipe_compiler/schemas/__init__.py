"""The JSON Schemas shipped with the compiler, loaded once per process.

``flow.schema.json`` is the one hand-written source of truth for the flow spec: its
``default`` keywords are the normalisation defaults, its ``x-flowpipe-canonical`` maps give
the canonical spelling of every accepted enum value. ``compiled-flow.schema.json`` and
``docs/flow-spec.md`` are generated from it (``make generate``).
``stage-catalogue.json`` declares the built-in stage types; the runtime reads the same file.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import orjson

FLOW_SCHEMA = "flow.schema.json"
COMPILED_SCHEMA = "compiled-flow.schema.json"
CATALOGUE = "stage-catalogue.json"
REGISTRY_METADATA_SCHEMA = "registry-metadata.schema.json"
REGISTRY_DEFAULTS_SCHEMA = "registry-defaults.schema.json"
OVERLAY_SCHEMA = "overlay.schema.json"


@cache
def load(name: str) -> Any:
    return orjson.loads(files(__package__).joinpath(name).read_bytes())


@cache
def validator(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(load(name))


@cache
def config_validator(stage_type: str) -> Any:
    import jsonschema_rs

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    schema.update(load(CATALOGUE)["stages"][stage_type]["config"])
    return jsonschema_rs.validator_for(schema)


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s; sibling keywords of a ``$ref`` override the target's."""
    while "$ref" in node:
        ref = node["$ref"]
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **siblings}
    return node


def at_path(root: dict[str, Any], schema_path: list[str | int]) -> dict[str, Any]:
    """The subschema reached by a validator's ``schema_path`` (``$ref`` segments followed)."""
    node: Any = root
    for part in schema_path:
        node = resolve(root, {"$ref": node["$ref"]}) if part == "$ref" else node[part]
    return node if isinstance(node, dict) else {}
