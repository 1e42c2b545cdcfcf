from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from flowpipe_runtime import registry

from . import teststages

BUILTIN_KINDS = {
    "counting_source": "source",
    "acking_source": "source",
    "reshape": "transform",
    "fail_at": "transform",
    "collect": "sink",
    "failing_open": "sink",
    "affinity": "sink",
}


@pytest.fixture(autouse=True)
def test_stage_types(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = registry.installed()
    extra = {
        name: EntryPoint(name, f"tests.runtime.teststages:{cls}", registry.GROUP)
        for name, cls in teststages.ENTRY_POINTS.items()
    }
    monkeypatch.setattr(registry, "installed", lambda: {**real, **extra})
    teststages.COLLECTED.clear()
    yield


def make_spec(
    stages: list[dict[str, Any]],
    queues: list[dict[str, Any]],
    mode: str = "EXECUTION_MODE_JOB",
    name: str = "t",
) -> dict[str, Any]:
    """A compiled spec (format 1) with the defaults the compiler would fill."""
    catalogue = registry.catalogue()
    filled = []
    for stage in stages:
        kind = (catalogue.get(stage["type"]) or {}).get("kind") or BUILTIN_KINDS[stage["type"]]
        filled.append({"threads": 1, "config": {}, "kind": kind, **stage})
    return {
        "format_version": 1,
        "name": name,
        "execution": {"mode": mode},
        "stages": filled,
        "queues": [{"capacity": 128, "type": "QUEUE_TYPE_IN_MEMORY", **q} for q in queues],
        "labels": {},
        "env": {},
        "kubernetes": {},
        "kubernetes_options": {"streaming_workload_kind": "STREAMING_WORKLOAD_KIND_DEPLOYMENT"},
    }
