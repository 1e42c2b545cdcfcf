"""The pre-commit hook, run for real with `pre-commit try-repo` in a temporary git repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

GOOD = (
    "name: demo\nstages:\n  - name: src\n    type: noop_source\n    output_queue: q\n"
    "  - name: sink\n    type: stdout_sink\n    input_queue: q\nqueues:\n  - name: q\n"
)

pytestmark = pytest.mark.slow


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _try_repo(
    user_repo: Path, home: Path, hook: str = "flowpipe-validate"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pre_commit = Path(sys.executable).parent / "pre-commit"
    return subprocess.run(
        [str(pre_commit), "try-repo", str(REPO), hook, "--all-files"],
        cwd=user_repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_hook_passes_on_good_flows_and_fails_on_bad_ones(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.fail("git is required")
    user_repo = tmp_path / "gitops"
    (user_repo / "flows").mkdir(parents=True)
    (user_repo / "flows" / "demo.yaml").write_text(GOOD, encoding="utf-8")
    (user_repo / "README.md").write_text("not a flow: [\n", encoding="utf-8")
    _git(user_repo, "init", "-q")
    _git(user_repo, "add", ".")
    home = tmp_path / "pre-commit-home"

    passed = _try_repo(user_repo, home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "flowpipe validate" in passed.stdout and "Passed" in passed.stdout

    bad = GOOD.replace("input_queue: q", "input_queue: qq")
    (user_repo / "flows" / "demo.yaml").write_text(bad, encoding="utf-8")
    _git(user_repo, "add", ".")
    failed = _try_repo(user_repo, home)
    assert failed.returncode == 1
    assert "Failed" in failed.stdout
    assert "flows/demo.yaml:8:18: error[FP208]" in failed.stdout


def test_schema_hook_refuses_edits_to_published_versions(tmp_path: Path) -> None:
    user_repo = tmp_path / "gitops"
    order = user_repo / "schemas" / "order"
    order.mkdir(parents=True)
    (order / "schema.yaml").write_text("format: JSON\nactive: 1\n", encoding="utf-8")
    (order / "v1.json").write_text('{"type": "object"}\n', encoding="utf-8")
    _git(user_repo, "init", "-q")
    _git(user_repo, "add", ".")
    _git(user_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "publish v1")
    home = tmp_path / "pre-commit-home"

    passed = _try_repo(user_repo, home, "flowpipe-schema-check")
    assert passed.returncode == 0, passed.stdout + passed.stderr

    (order / "v1.json").write_text('{"type": "array"}\n', encoding="utf-8")
    _git(user_repo, "add", ".")
    failed = _try_repo(user_repo, home, "flowpipe-schema-check")
    assert failed.returncode == 1
    assert (
        "published version schemas/order/v1.json was edited (compared with HEAD)" in failed.stdout
    )


def test_compile_check_hook_fails_when_rendered_output_is_stale(tmp_path: Path) -> None:
    from flowpipe_compiler.cli import main

    user_repo = tmp_path / "gitops"
    (user_repo / "flows").mkdir(parents=True)
    (user_repo / "flows" / "demo.yaml").write_text(GOOD, encoding="utf-8")
    _git(user_repo, "init", "-q")
    assert main(["compile", "--root", str(user_repo)]) == 0
    _git(user_repo, "add", ".")
    home = tmp_path / "pre-commit-home"

    passed = _try_repo(user_repo, home, "flowpipe-compile-check")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "flowpipe compile --check" in passed.stdout and "Passed" in passed.stdout

    edited = GOOD.replace("type: stdout_sink\n", "type: stdout_sink\n    threads: 3\n")
    (user_repo / "flows" / "demo.yaml").write_text(edited, encoding="utf-8")
    _git(user_repo, "add", ".")
    failed = _try_repo(user_repo, home, "flowpipe-compile-check")
    assert failed.returncode == 1
    assert "stale: " in failed.stdout and "rendered/kustomize/base/demo/flow.yaml" in failed.stdout
    assert "run: flowpipe compile" in failed.stdout
