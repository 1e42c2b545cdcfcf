"""The Kustomize tree: a base per flow, an overlay per environment.

    kustomize/base/<flow>/          kustomization.yaml, flow.yaml (the compiled spec),
                                    resources.yaml (the workload, and its Service if streaming)
    kustomize/overlays/<env>/       kustomization.yaml, <flow>.flow.yaml, patches.yaml

Few files per flow on purpose: creating files dominates the time of a large compile
(docs/benchmarks.md, suite "render"), so a flow's objects share one multi-document file, and
an environment's patches another (one strategic-merge patch per document).

The ConfigMap comes from a ``configMapGenerator``, so its name carries a hash of its content
and Kustomize rewrites the references to it: a changed spec is a new ConfigMap and a new
pod template (restart on change). An environment that changes a flow's spec replaces the
generator's file (``behavior: replace``) and patches the workload (checksum, replicas,
image, resources, env) with values rendered by the same code as the base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from flowpipe_compiler import emit
from flowpipe_compiler.render.objects import Rendered, render

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


@dataclass(slots=True)
class Overlay:
    name: str
    namespace: str | None = None
    image: str | None = None
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    patches: list[Any] = field(default_factory=list)


def apply(spec: dict[str, Any], overrides: dict[str, Any], image: str | None) -> dict[str, Any]:
    """The compiled spec of a flow in an environment (names were checked by the caller)."""
    flow_overrides = {k: v for k, v in overrides.items() if k != "replicas"}
    if not flow_overrides and not image:
        return spec
    out: dict[str, Any] = orjson.loads(orjson.dumps(spec))  # a deep copy, 10x deepcopy's speed
    out["env"].update(overrides.get("env", {}))
    if image:
        out["kubernetes"]["image"] = image
    if "resources" in overrides:
        out["kubernetes"].setdefault("resources", {}).update(overrides["resources"])
    for stage in out["stages"]:
        stage.update(overrides.get("stages", {}).get(stage["name"], {}))
    for queue in out["queues"]:
        queue.update(overrides.get("queues", {}).get(queue["name"], {}))
    return out


def environment(
    specs: dict[str, dict[str, Any]], overlay: Overlay
) -> dict[str, tuple[dict[str, Any], int | None]]:
    """Each flow's compiled spec in ``overlay``'s environment, and its replicas override."""
    out = {}
    for name, spec in specs.items():
        overrides = overlay.flows.get(name, {})
        out[name] = (apply(spec, overrides, overlay.image), overrides.get("replicas"))
    return out


def _base(rendered: Rendered) -> dict[str, str]:
    prefix = f"kustomize/base/{rendered.flow}"
    files = {
        f"{prefix}/flow.yaml": rendered.spec_text,
        f"{prefix}/resources.yaml": emit.to_yaml_stream(rendered.objects),
    }
    kustomization = {
        **KUSTOMIZATION,
        "resources": ["resources.yaml"],
        "configMapGenerator": [
            {
                "name": rendered.context["names"]["config_map"],
                "files": ["flow.yaml"],
                "options": {"labels": rendered.context["labels"]},
            }
        ],
    }
    files[f"{prefix}/kustomization.yaml"] = emit.to_yaml(kustomization)
    return files


def _pod_spec_path(kind: str) -> list[str]:
    return {
        "CronJob": ["spec", "jobTemplate", "spec", "template"],
    }.get(kind, ["spec", "template"])


def _patch(env: Rendered, replicas: int | None) -> dict[str, Any]:
    """Strategic-merge patch turning the base workload into the environment's."""
    workload = env.objects[0]
    patch: dict[str, Any] = {
        "apiVersion": workload["apiVersion"],
        "kind": workload["kind"],
        "metadata": {"name": workload["metadata"]["name"]},
    }
    template: dict[str, Any] = patch
    for part in _pod_spec_path(workload["kind"]):
        template = template.setdefault(part, {})
    pod = env.context["pod"]
    template["metadata"] = {"annotations": {"flowpipe.io/flow-config-checksum": env.checksum}}
    container: dict[str, Any] = {"name": "runtime", "image": pod["image"], "env": pod["env"]}
    if pod["resources"]:
        container["resources"] = pod["resources"]
    template["spec"] = {"containers": [container]}
    if replicas is not None and workload["kind"] == "Deployment":
        patch["spec"]["replicas"] = replicas
    return patch


def tree(specs: dict[str, dict[str, Any]], overlays: list[Overlay]) -> dict[str, str]:
    """Every file of the Kustomize tree, by path relative to the output directory."""
    files: dict[str, str] = {}
    bases = {name: render(spec) for name, spec in sorted(specs.items())}
    for rendered in bases.values():
        files.update(_base(rendered))
    for overlay in overlays:
        prefix = f"kustomize/overlays/{overlay.name}"
        kustomization: dict[str, Any] = {
            **KUSTOMIZATION,
            "resources": [f"../../base/{name}" for name in bases],
        }
        if overlay.namespace:
            kustomization["namespace"] = overlay.namespace
        generators, patches = [], []
        for name, (env_spec, replicas) in environment(specs, overlay).items():
            base = bases[name]
            if env_spec == specs[name] and replicas is None:
                continue
            env = render(env_spec)
            if env_spec != specs[name]:
                files[f"{prefix}/{name}.flow.yaml"] = env.spec_text
                generators.append(
                    {
                        "name": base.context["names"]["config_map"],
                        "behavior": "replace",
                        "files": [f"flow.yaml={name}.flow.yaml"],
                    }
                )
            patches.append(_patch(env, replicas))
        if generators:
            kustomization["configMapGenerator"] = generators
        if patches:
            files[f"{prefix}/patches.yaml"] = emit.to_yaml_stream(patches)
        if patches or overlay.patches:
            kustomization["patches"] = ([{"path": "patches.yaml"}] if patches else []) + (
                overlay.patches
            )
        files[f"{prefix}/kustomization.yaml"] = emit.to_yaml(kustomization)
    return files
