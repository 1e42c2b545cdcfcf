"""Checking objects against the Kubernetes OpenAPI schema of the target version (strict:
unknown fields are errors), with kubernetes-validate's bundled schemas.

Its stock ``validate()`` re-reads and re-parses the definitions on every call (about 16 ms
an object); one cached jsonschema-rs validator per version and kind, with the definitions in
its registry, takes about 10 us.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

DEFAULT_KUBE_VERSION = "1.33"


class UnknownKind(Exception):
    pass


def newest_bundled(version: str) -> str:
    """``version``, or the newest bundled schema version when ``version`` is newer."""
    from kubernetes_validate import utils

    latest = utils.latest_version()
    newer = utils.major_minor(version) > utils.major_minor(latest)
    return ".".join(latest.split(".")[:2]) if newer else version


@cache
def _definitions(directory: str) -> Any:
    from kubernetes_validate import utils

    return utils.schema_contents(f"kubernetes-json-schema/{directory}/_definitions.json", "")


@cache
def _validator(version: str, api_version: str, kind: str) -> Any:
    import jsonschema_rs
    from kubernetes_validate import utils

    if utils.major_minor(version) > utils.latest_version():
        raise UnknownKind(
            f"Kubernetes {version} is newer than the bundled schemas "
            f"(up to {utils.latest_version()})"
        )
    known = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)]
    if not known:
        raise UnknownKind(f"no bundled schemas for Kubernetes {version}")
    directory = f"v{known[-1]}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(
            f"kubernetes-json-schema/{directory}/{kind.lower()}-{group}.json", version
        )
    except FileNotFoundError:
        raise UnknownKind(f"no schema for {api_version} {kind} in Kubernetes {version}") from None
    definitions = _definitions(directory)
    registry = jsonschema_rs.Registry([(definitions["$id"], definitions)])
    return jsonschema_rs.validator_for(schema, registry=registry)


def problems(obj: dict[str, Any], version: str = DEFAULT_KUBE_VERSION) -> list[str]:
    """Why ``obj`` is not a valid object of its kind in Kubernetes ``version`` (empty: valid)."""
    validator = _validator(version, obj["apiVersion"], obj["kind"])
    return [
        f"{'.'.join(map(str, error.instance_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(obj)
    ]
