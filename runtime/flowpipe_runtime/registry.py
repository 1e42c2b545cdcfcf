"""Stage types: found through the ``flowpipe.stages`` entry points, checked at start-up.

Built-in types are registered by this distribution's own entry points, so built-ins and
plugins are found the same way. Their kind and config schema come from the stage catalogue
the compiler checks against (data/stage-catalogue.json, the same file); a plugin declares
``kind`` and ``config_schema`` on its class.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from flowpipe_runtime.sdk import Stage
from flowpipe_runtime.spec import data_file

GROUP = "flowpipe.stages"


class StartupError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class StageType:
    name: str
    cls: type[Stage]
    config_schema: dict[str, Any] | None


@cache
def installed() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def catalogue() -> dict[str, Any]:
    stages: dict[str, Any] = data_file("stage-catalogue.json")["stages"]
    return stages


def resolve(stage: dict[str, Any]) -> StageType:
    """The implementation of ``stage['type']``, with its config checked, or a StartupError."""
    name, type_name = stage["name"], stage["type"]
    available = installed()
    entry = available.get(type_name)
    if entry is None:
        declared = " (it is in the stage catalogue, but no installed package implements it)"
        raise StartupError(
            f"stage '{name}': unknown stage type '{type_name}'"
            + (declared if type_name in catalogue() else "")
            + f"; installed types: {', '.join(sorted(available)) or 'none'}"
        )
    plugin = stage.get("plugin")
    provider = entry.dist.name if entry.dist is not None else None
    if plugin and provider and plugin not in (provider, provider.replace("-", "_")):
        raise StartupError(
            f"stage '{name}': type '{type_name}' is provided by '{provider}', "
            f"but the flow asks for plugin '{plugin}'"
        )
    try:
        cls = entry.load()
    except Exception as exc:
        raise StartupError(
            f"stage '{name}': cannot load type '{type_name}' from {entry.value}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise StartupError(f"stage '{name}': {entry.value} is not a flowpipe Stage class")
    if cls.kind != stage["kind"]:
        raise StartupError(
            f"stage '{name}': type '{type_name}' is a {cls.kind}, "
            f"the flow uses it as a {stage['kind']}"
        )
    known = catalogue().get(type_name)
    schema = known["config"] if known is not None else cls.config_schema
    if schema is not None:
        _check_config(name, type_name, schema, stage.get("config", {}))
    return StageType(type_name, cls, schema)


def _check_config(stage: str, type_name: str, schema: dict[str, Any], config: Any) -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(schema)
    problems = [
        f"config/{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in validator.iter_errors(config)
    ]
    if problems:
        raise StartupError(
            f"stage '{stage}': invalid config for type '{type_name}': " + "; ".join(problems)
        )
