"""`flowpipe diff --against REF` in a real git repository."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Outcome, git

Run = Callable[..., Outcome]


@pytest.fixture
def committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for part in ("flows", "overlays", "schemas"):
        shutil.copytree(REPO / part, tmp_path / part)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_change_says_so(committed: Path, flowpipe: Run) -> None:
    result = flowpipe("diff", "--against", "HEAD")
    assert result.code == 0
    assert result.out == "no changes to objects against HEAD\n"


def test_changed_added_and_removed_objects(committed: Path, flowpipe: Run) -> None:
    flow = committed / "flows/trade-ingest.yaml"
    flow.write_text(flow.read_text().replace("capacity: 1024", "capacity: 2048"))
    overlay = committed / "overlays/prod/overlay.yaml"
    overlay.write_text(overlay.read_text().replace("replicas: 3", "replicas: 4"))
    (committed / "flows/node-logs.yaml").unlink()
    shutil.copy(committed / "flows/noop-streaming.yaml", committed / "flows/extra.yaml")
    out = flowpipe("diff", "--against", "HEAD").out
    prod = out.split("## prod\n")[1].split("\n## ")[0]
    assert (
        "~ ConfigMap trade-ingest-config\n    data.flow.yaml.queues[0].capacity: 1024 -> 2048"
        in prod
    )
    assert "    spec.replicas: 3 -> 4" in prod
    assert "- DaemonSet node-logs-runtime" in prod
    assert "+ Deployment extra-runtime" in prod
    assert "## base\n" in out and "## dev\n" in out


def test_a_missing_ref_is_a_usage_error(committed: Path, flowpipe: Run) -> None:
    result = flowpipe("diff", "--against", "origin/nope")
    assert result.code == 2
    assert "no such commit in this clone" in result.err


def test_flows_sharing_a_name_stop_the_diff(committed: Path, flowpipe: Run) -> None:
    shutil.copy(committed / "flows/trade-ingest.yaml", committed / "flows/copy.yaml")
    result = flowpipe("diff", "--against", "HEAD")
    assert result.code == 2
    assert "error[FP502]: flow name 'trade-ingest' is also used by" in result.err
