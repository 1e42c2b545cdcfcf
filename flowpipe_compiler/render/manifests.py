"""The objects an environment deploys, as one list (what the Argo CD plugin prints).

They are the objects ``helm template -f values-<env>.yaml`` gives: the ConfigMap keeps its
plain name and the pod template's checksum annotation restarts pods when the spec changes
(Kustomize's output differs only by the ConfigMap's hash suffix).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowpipe_compiler.render.kustomize import Overlay, environment
from flowpipe_compiler.render.objects import Rendered, render


def config_map(rendered: Rendered) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": rendered.context["names"]["config_map"],
            "labels": rendered.context["labels"],
        },
        "data": {"flow.yaml": rendered.spec_text},
    }


def objects(
    specs: dict[str, dict[str, Any]],
    overlay: Overlay | None,
    flows: Iterable[str],
    namespace: str | None,
) -> list[dict[str, Any]]:
    """Each of ``flows``' objects in ``overlay``'s environment (None: the base), in
    ``namespace`` (the overlay's own namespace wins, as in ``kustomize build``)."""
    chosen = {name: specs[name] for name in sorted(flows)}
    in_env = environment(chosen, overlay or Overlay(name=""))
    namespace = (overlay.namespace if overlay else None) or namespace
    out = []
    for name in chosen:
        spec, replicas = in_env[name]
        rendered = render(spec, replicas if replicas is not None else 1)
        for obj in (config_map(rendered), *rendered.objects):
            obj = {**obj, "metadata": dict(obj["metadata"])}  # render() results are shared
            if namespace:
                obj["metadata"]["namespace"] = namespace
            out.append(obj)
    return out
