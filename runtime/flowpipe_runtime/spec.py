"""Reading the compiled spec: the runtime's only input contract.

The compiler writes it (YAML or JSON), with ``format_version``; we refuse versions we do not
know and specs that fail the compiled-flow JSON Schema, with a message that says why.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

SUPPORTED_FORMAT_VERSIONS = (1,)


class SpecError(Exception):
    pass


@cache
def data_file(name: str) -> Any:
    return orjson.loads(files("flowpipe_runtime").joinpath("data", name).read_bytes())


def load(path: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the compiled spec: {exc.strerror or exc}") from None
    try:
        if raw.lstrip()[:1] == b"{":
            spec = orjson.loads(raw)
        else:
            from ruamel.yaml import YAML

            spec = YAML(typ="safe").load(raw.decode("utf-8"))
    except Exception as exc:
        raise SpecError(f"{path}: not a compiled spec (YAML/JSON parse error: {exc})") from None
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: not a compiled spec (top level is not a mapping)")
    version = spec.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise SpecError(
            f"{path}: compiled spec format_version {version!r} is not supported by this runtime "
            f"(supported: {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}); "
            "compile the flow with a matching flowpipe, e.g. `flowpipe spec FLOW > flow.yaml`"
        )
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(data_file("compiled-flow.schema.json"))
    problems = [
        f"  at /{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in validator.iter_errors(spec)
    ]
    if problems:
        raise SpecError(
            f"{path}: invalid compiled spec; was it written by `flowpipe spec`?\n"
            + "\n".join(problems[:10])
        )
    return spec
