"""What Argo CD asks of the Config Management Plugin, read from its build environment.

Argo CD runs the plugin's ``generate`` command in the application's source directory with:

- ``ARGOCD_APP_PARAMETERS``: the parameters set in the Application (JSON), also spread over
  ``PARAM_<NAME>`` / ``PARAM_<NAME>_<i>`` variables. Announced defaults are *not* sent, so
  the defaults below are applied here and announced from here (one source).
- ``ARGOCD_ENV_<NAME>``: the Application's ``plugin.env`` entries.
- ``ARGOCD_APP_NAME``, ``ARGOCD_APP_NAMESPACE``, ``KUBE_VERSION``: the build environment.

A parameter wins over a ``plugin.env`` entry, which wins over the default.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from flowpipe_compiler.diagnostics import FlowpipeError
from flowpipe_compiler.render.kube_schema import DEFAULT_KUBE_VERSION

PLUGIN = "flowpipe"
"""The ConfigManagementPlugin's name: Applications name it in ``spec.source.plugin.name``."""

PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "environment",
        "title": "Environment",
        "tooltip": "An overlays/<environment> folder of the repository; empty: the flows "
        "without an overlay.",
        "string": "",
    },
    {
        "name": "flows",
        "title": "Flows",
        "tooltip": "Names of the flows to deploy; shell-style wildcards (*, ?) allowed.",
        "collectionType": "array",
        "array": ["*"],
    },
]
ENV = {"environment": "FLOWPIPE_ENVIRONMENT", "flows": "FLOWPIPE_FLOWS"}
"""The ``plugin.env`` names (Argo CD hands them over as ``ARGOCD_ENV_<name>``)."""


@dataclass(slots=True)
class Request:
    environment: str | None = None
    flows: list[str] = field(default_factory=lambda: ["*"])
    namespace: str | None = None
    app: str | None = None
    kube_version: str = DEFAULT_KUBE_VERSION

    def select(self, names: list[str]) -> list[str]:
        """The flow names the request asks for; a pattern that matches none is an error
        (an empty manifest stream would make Argo CD prune the application)."""
        chosen: set[str] = set()
        for pattern in self.flows:
            matched = fnmatch.filter(names, pattern)
            if not matched:
                known = ", ".join(sorted(names)) or "none"
                raise FlowpipeError(
                    f"flow selection '{pattern}' matches no flow (flows here: {known}); "
                    "fix the Application's 'flows' parameter or FLOWPIPE_FLOWS"
                )
            chosen.update(matched)
        return sorted(chosen)


def _from_parameters(raw: str) -> dict[str, Any]:
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FlowpipeError(f"ARGOCD_APP_PARAMETERS is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise FlowpipeError("ARGOCD_APP_PARAMETERS must be a JSON list of parameters")
    known = {p["name"]: p for p in PARAMETERS}
    out: dict[str, Any] = {}
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in known:
            raise FlowpipeError(
                f"unknown plugin parameter {name!r}; the flowpipe plugin takes: " + ", ".join(known)
            )
        kind = known[name].get("collectionType", "string")
        value = item.get(kind)
        if value is None:
            raise FlowpipeError(f"plugin parameter '{name}' must be set as a {kind}")
        out[name] = value
    return out


def _from_param_variables(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``PARAM_*`` spelling, for a caller that sets only those."""
    out: dict[str, Any] = {}
    for parameter in PARAMETERS:
        key = "PARAM_" + re.sub(r"[^A-Za-z0-9]", "_", parameter["name"]).upper()
        if parameter.get("collectionType") == "array":
            items: list[str] = []
            while f"{key}_{len(items)}" in environ:
                items.append(environ[f"{key}_{len(items)}"])
            if items:
                out[parameter["name"]] = items
        elif key in environ:
            out[parameter["name"]] = environ[key]
    return out


def kube_version(raw: str | None) -> str:
    """``MAJOR.MINOR`` of Argo CD's ``KUBE_VERSION`` (``v1.31.2``, ``1.31.2+k3s1``...)."""
    if not raw:
        return DEFAULT_KUBE_VERSION
    match = re.match(r"v?(\d+)\.(\d+)", raw.strip())
    if not match:
        raise FlowpipeError(f"KUBE_VERSION '{raw}' is not a Kubernetes version like 1.31.2")
    return f"{match[1]}.{match[2]}"


def request(environ: Mapping[str, str]) -> Request:
    """The plugin's request from Argo CD's environment variables."""
    raw = environ.get("ARGOCD_APP_PARAMETERS", "").strip()
    given = _from_parameters(raw) if raw else _from_param_variables(environ)
    env_var = environ.get(f"ARGOCD_ENV_{ENV['environment']}")
    flows_var = environ.get(f"ARGOCD_ENV_{ENV['flows']}")
    environment = given.get("environment", env_var if env_var is not None else "")
    flows = given.get("flows")
    if flows is None:
        flows = re.split(r"[\s,]+", flows_var.strip()) if flows_var and flows_var.strip() else ["*"]
    if not isinstance(environment, str) or not all(isinstance(f, str) and f for f in flows):
        raise FlowpipeError("plugin parameters: 'environment' is a string, 'flows' a list of names")
    return Request(
        environment=environment.strip() or None,
        flows=list(flows) or ["*"],
        namespace=environ.get("ARGOCD_APP_NAMESPACE") or None,
        app=environ.get("ARGOCD_APP_NAME") or None,
        kube_version=kube_version(environ.get("KUBE_VERSION")),
    )
