"""The Helm chart: one chart for every flow, a values file per environment.

    helm/flowpipe/Chart.yaml, values.yaml, values-<env>.yaml, values.schema.json,
    templates/_helpers.tpl, templates/flows.yaml      (from templates/k8s/helm/, ours only)

The values are what the compiler computed for the Kustomize output (one source), so for an
environment ``helm template -f values-<env>.yaml --namespace <ns>`` gives the objects that
``kustomize build overlays/<env>`` gives, but for the ConfigMap's hash suffix (Helm restarts
pods through the checksum annotation instead).
"""

from __future__ import annotations

from typing import Any

from flowpipe_compiler import __version__, emit
from flowpipe_compiler.render.kustomize import Overlay, environment
from flowpipe_compiler.render.objects import render, templates_dir

CHART = "helm/flowpipe"


def _flow_values(spec: dict[str, Any], replicas: int | None) -> dict[str, Any]:
    rendered = render(spec, replicas if replicas is not None else 1)
    ctx = rendered.context
    return {
        "kind": ctx["kind"],
        "names": ctx["names"],
        "labels": ctx["labels"],
        "selector": ctx["selector"],
        "replicas": ctx["replicas"],
        "cron": ctx["cron"],
        "pod": ctx["pod"],
        "spec": rendered.spec_text,
    }


def values_schema() -> dict[str, Any]:
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    pod = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "labels",
            "annotations",
            "restart_policy",
            "grace_seconds",
            "image",
            "pull_policy",
            "env",
            "port",
            "resources",
            "capabilities",
            "config_map",
            "image_pull_secrets",
        ],
        "properties": {
            "labels": string_map,
            "annotations": string_map,
            "service_account": {"type": ["string", "null"]},
            "image_pull_secrets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
            },
            "runtime_class": {"type": ["string", "null"]},
            "restart_policy": {"enum": ["Always", "OnFailure", "Never"]},
            "grace_seconds": {"type": "integer", "minimum": 1},
            "image": {"type": "string", "minLength": 1},
            "pull_policy": {"enum": ["Always", "IfNotPresent", "Never"]},
            "env": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "oneOf": [{"required": ["value"]}, {"required": ["valueFrom"]}],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "value": {"type": "string"},
                        "valueFrom": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["secretKeyRef"],
                            "properties": {
                                "secretKeyRef": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name", "key"],
                                    "properties": {
                                        "name": {"type": "string", "minLength": 1},
                                        "key": {"type": "string", "minLength": 1},
                                    },
                                }
                            },
                        },
                    },
                },
            },
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "resources": {"type": "object"},
            "capabilities": {"type": "array", "items": {"type": "string"}},
            "config_map": {"type": "string", "minLength": 1},
        },
    }
    flow = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "names", "labels", "selector", "replicas", "cron", "pod", "spec"],
        "properties": {
            "kind": {"enum": ["Deployment", "DaemonSet", "Job", "CronJob"]},
            "names": {
                "type": "object",
                "required": ["workload", "service", "config_map"],
                "additionalProperties": {"type": "string", "minLength": 1},
            },
            "labels": string_map,
            "selector": string_map,
            "replicas": {"type": "integer", "minimum": 0},
            "cron": {"type": "object"},
            "pod": pod,
            "spec": {"type": "string", "minLength": 1, "description": "The compiled flow spec."},
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "flowpipe flows chart values",
        "type": "object",
        "additionalProperties": False,
        "required": ["flows"],
        "properties": {"flows": {"type": "object", "additionalProperties": flow}},
    }


def chart(specs: dict[str, dict[str, Any]], overlays: list[Overlay]) -> dict[str, str]:
    files = {
        f"{CHART}/Chart.yaml": emit.to_yaml(
            {
                "apiVersion": "v2",
                "name": "flowpipe",
                "description": "The flows of this repository, compiled by flowpipe.",
                "type": "application",
                "version": __version__,
                "appVersion": __version__,
                "icon": "https://flowpipe.dev/icon.png",
            }
        ),
        f"{CHART}/values.yaml": emit.to_yaml(
            {"flows": {name: _flow_values(spec, None) for name, spec in sorted(specs.items())}}
        ),
        f"{CHART}/values.schema.json": emit.to_json(values_schema()),
    }
    for overlay in overlays:
        flows = {
            name: _flow_values(spec, replicas)
            for name, (spec, replicas) in sorted(environment(specs, overlay).items())
        }
        files[f"{CHART}/values-{overlay.name}.yaml"] = emit.to_yaml({"flows": flows})
    source = templates_dir() / "helm" / "templates"
    for template in sorted(source.iterdir()):
        files[f"{CHART}/templates/{template.name}"] = template.read_text(encoding="utf-8")
    return files
