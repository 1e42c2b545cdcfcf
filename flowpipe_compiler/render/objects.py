"""Kubernetes objects for one compiled flow, from our Jinja2 templates in templates/k8s/.

Only templates shipped with flowpipe are rendered, in Jinja2's sandbox with strict
undefined. User values never become template text: they reach the templates as data and
are written with the ``json`` filter (the templates produce JSON), so a label value holding
quotes, newlines, ``{{ }}``, ``---`` or a YAML tag is one string, and nothing a user writes
can add an object or a field. The rendered text is parsed back and re-emitted as YAML,
deterministically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from flowpipe_compiler import __version__, emit

DEFAULT_IMAGE = f"ghcr.io/flowpipe/runtime:{__version__}"
HTTP_PORT = 9090
GRACE_SECONDS = 30
"""Kubernetes' default; the runtime drains within 25 s of SIGTERM (its grace period)."""

_PULL = {"ALWAYS": "Always", "IF_NOT_PRESENT": "IfNotPresent", "NEVER": "Never"}
_RESTART = {"ALWAYS": "Always", "ON_FAILURE": "OnFailure", "NEVER": "Never"}


class RenderError(Exception):
    """A flow that compiles but cannot run on Kubernetes as written (a user mistake)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    flow: str
    spec_text: str
    """The compiled spec as the ConfigMap's flow.yaml."""
    checksum: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)


def templates_dir() -> Path:
    packaged = Path(str(files("flowpipe_compiler"))) / "templates" / "k8s"
    return (
        packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "templates" / "k8s"
    )


@cache
def _environment() -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir())),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["json"] = lambda value: orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return env


def _short(value: str, prefix: str) -> str:
    return value.removeprefix(prefix)


def context(spec: dict[str, Any], checksum: str, replicas: int = 1) -> dict[str, Any]:
    """What the templates need, computed once from the compiled spec."""
    name = spec["name"]
    job = spec["execution"]["mode"] == "EXECUTION_MODE_JOB"
    k8s, options = spec["kubernetes"], spec["kubernetes_options"]
    labels = {
        **spec["labels"],
        "app.kubernetes.io/name": "flowpipe-runtime",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "flow",
        "app.kubernetes.io/managed-by": "flowpipe",
        "flowpipe.io/flow-name": name,
    }
    selector = {"flowpipe.io/flow-name": name, "app.kubernetes.io/instance": name}
    restart = _restart_policy(k8s.get("restart_policy"), job)
    kind = "CronJob" if "cron" in options else "Job"
    if not job:
        daemon = options["streaming_workload_kind"].endswith("DAEMONSET")
        kind = "DaemonSet" if daemon else "Deployment"
    cron = dict(options.get("cron", {}))
    if cron:
        cron["concurrency_policy"] = _short(
            cron.get("concurrency_policy", "CRON_CONCURRENCY_POLICY_ALLOW"),
            "CRON_CONCURRENCY_POLICY_",
        ).capitalize()
        for key in (
            "time_zone",
            "suspend",
            "starting_deadline_seconds",
            "successful_jobs_history_limit",
            "failed_jobs_history_limit",
        ):
            cron.setdefault(key, None)
    pod = {
        "labels": {**labels, **options.get("pod_labels", {})},
        "annotations": {
            **options.get("pod_annotations", {}),
            "flowpipe.io/flow-config-checksum": checksum,
        },
        "service_account": options.get("service_account_name"),
        "image_pull_secrets": [{"name": s} for s in options.get("image_pull_secrets", [])],
        "runtime_class": options.get("runtime_class_name"),
        "restart_policy": restart,
        "grace_seconds": GRACE_SECONDS,
        "image": k8s.get("image", DEFAULT_IMAGE),
        "pull_policy": _PULL[
            _short(
                k8s.get("image_pull_policy", "IMAGE_PULL_POLICY_IF_NOT_PRESENT"),
                "IMAGE_PULL_POLICY_",
            )
        ],
        "env": [{"name": k, "value": v} for k, v in sorted(spec["env"].items())]
        + [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": ref["secret"], "key": ref["key"]}}}
            for k, ref in sorted(spec.get("secret_env", {}).items())
        ],
        "port": HTTP_PORT,
        "resources": _resources(k8s),
        "capabilities": ["SYS_NICE"]
        if any(s.get("realtime_priority") for s in spec["stages"])
        else [],
        "config_map": f"{name}-config",
    }
    return {
        "kind": kind,
        "names": {
            "workload": name if job else f"{name}-runtime",
            "service": f"{name}-metrics",
            "config_map": f"{name}-config",
        },
        "labels": labels,
        "selector": selector,
        "replicas": replicas,
        "cron": cron,
        "pod": pod,
    }


def _restart_policy(value: str | None, job: bool) -> str:
    if value is None:
        return "OnFailure" if job else "Always"
    policy = _RESTART[_short(value, "RESTART_POLICY_")]
    if job and policy == "Always":
        raise RenderError(
            "restart_policy RESTART_POLICY_ALWAYS is not allowed for a job "
            "(Kubernetes Jobs take ON_FAILURE or NEVER)"
        )
    if not job and policy != "Always":
        raise RenderError(
            f"restart_policy {value} is not allowed for a streaming flow "
            "(Deployments and DaemonSets restart always)"
        )
    return policy


def _resources(k8s: dict[str, Any]) -> dict[str, Any]:
    resources = k8s.get("resources", {})
    amounts: dict[str, str] = {}
    cores = resources.get("cpu_cores")
    if k8s.get("cpu_pinning"):
        # Pinned threads need the static CPU manager: Guaranteed QoS, whole CPUs, requests = limits.
        pinned = {cpu for stage in k8s["cpu_pinning"].values() for cpu in stage["cpu"]}
        cores = cores or len(pinned)
        if not resources.get("memory_mb"):
            raise RenderError(
                "cpu_pinning needs kubernetes.resources.memory_mb: pinned CPUs need "
                "Guaranteed QoS, which needs a memory limit"
            )
    if cores:
        amounts["cpu"] = str(cores)
    if resources.get("memory_mb"):
        amounts["memory"] = f"{resources['memory_mb']}Mi"
    return {"requests": amounts, "limits": dict(amounts)} if amounts else {}


def _render(template: str, values: dict[str, Any]) -> dict[str, Any]:
    # The templates write JSON (user values through the `json` filter): parsing it back
    # takes microseconds, where YAML took a millisecond an object.
    text = _environment().get_template(template).render(**values)
    data = orjson.loads(text)
    assert isinstance(data, dict)
    return data


_RENDERED: dict[tuple[bytes, int], Rendered] = {}


def render(spec: dict[str, Any], replicas: int = 1) -> Rendered:
    """The flow's workload (and metrics Service for streaming flows), plus its config text.

    A flow is rendered once per distinct spec (validation, Kustomize, Helm and the
    environments ask for the same ones), so results are kept for the life of the process.
    """
    key = (orjson.dumps(spec, option=orjson.OPT_SORT_KEYS), replicas)
    if key not in _RENDERED:
        _RENDERED[key] = _render_flow(spec, replicas)
    return _RENDERED[key]


def _render_flow(spec: dict[str, Any], replicas: int) -> Rendered:
    spec_text = emit.to_yaml(spec)
    checksum = hashlib.sha256(spec_text.encode()).hexdigest()
    values = context(spec, checksum, replicas)
    objects = [_render(f"{values['kind'].lower()}.json.j2", values)]
    if values["kind"] in ("Deployment", "DaemonSet"):
        objects.append(_render("service.json.j2", values))
    return Rendered(spec["name"], spec_text, checksum, objects, values)
