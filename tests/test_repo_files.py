"""Files users take from this repo as they are: CI workflows, the dashboard, shared data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def test_workflows_match_the_github_workflow_schema() -> None:
    workflows = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, workflows),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_queries_only_metrics_the_runtime_exposes() -> None:
    from flowpipe_runtime.observe import FlowCollector

    dashboard = json.loads((REPO / "runtime" / "grafana" / "flowpipe-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for e in exprs for m in re.findall(r"flowpipe_[a-z_]+", e)}

    from types import SimpleNamespace

    exposed = set()
    empty_flow = SimpleNamespace(name="f", queues={}, stages=[])
    for family in FlowCollector(empty_flow).collect():  # type: ignore[arg-type]
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exposed |= {family.name + s for s in suffixes.get(family.type, [""])}
    assert used <= exposed, used - exposed


def test_runtime_shares_the_compilers_catalogue_and_compiled_schema() -> None:
    data = REPO / "runtime" / "flowpipe_runtime" / "data"
    for name in ("stage-catalogue.json", "compiled-flow.schema.json"):
        shared = data / name
        assert shared.is_symlink()
        assert shared.resolve() == (REPO / "flowpipe_compiler" / "schemas" / name).resolve()
