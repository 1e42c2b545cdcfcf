"""CI for users and for this project: every workflow and the composite action are valid for
GitHub (check-jsonschema's vendored schemas, offline), and the action's scripts do their job
when run as a runner runs them, in a pull-request checkout with `origin/<base>`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO, git

BIN = Path(sys.executable).parent
ACTION = YAML(typ="safe").load((REPO / "action.yml").read_text(encoding="utf-8"))
FLOW = (
    "name: demo\nstages:\n  - name: src\n    type: noop_source\n    output_queue: q\n"
    "  - name: sink\n    type: stdout_sink\n    input_queue: q\nqueues:\n  - name: q\n"
)


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_workflow_is_a_valid_github_workflow() -> None:
    workflows = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
    from flowpipe_compiler.scaffold import FILES

    scaffolded = [name for name in FILES if name.startswith(".github/workflows/")]
    assert workflows and scaffolded
    done = check_jsonschema("vendor.github-workflows", *workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_action_is_a_valid_github_action() -> None:
    done = check_jsonschema("vendor.github-actions", REPO / "action.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    broken.write_text("on: push\njobs:\n  test:\n    steps:\n      - run: make\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode == 1


def _expression(text: str, context: dict[str, str]) -> str:
    """The `${{ a || b }}` lookups the action's scripts use (nothing else is evaluated)."""

    def value(match: re.Match[str]) -> str:
        for name in match[1].split("||"):
            if context.get(name.strip()):
                return context[name.strip()]
        return ""

    return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", value, text)


def run_action(
    checkout: Path, summary: Path, **inputs: str
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each `run` step of action.yml, as a runner runs it (bash, working-directory, env);
    `uses` steps (setup-python, upload-sarif) and the pip install belong to GitHub."""
    context = {f"inputs.{k}": str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    context |= {f"inputs.{k.replace('_', '-')}": v for k, v in inputs.items()}
    context |= {"github.base_ref": "main", "github.action_path": str(REPO)}
    results = {}
    for step in ACTION["runs"]["steps"]:
        if "run" not in step or step["name"] == "Install flowpipe":
            continue
        env = {k: _expression(str(v), context) for k, v in step.get("env", {}).items()}
        results[step["name"]] = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=checkout / _expression(step.get("working-directory", "."), context),
            env={
                "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                "HOME": str(checkout),
                "GITHUB_STEP_SUMMARY": str(summary),
                **env,
            },
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    return results


@pytest.fixture
def pull_request(tmp_path: Path) -> Path:
    """A clone of a repository of flows, on a branch off `main` (fetch-depth 0)."""
    from flowpipe_compiler.cli import main

    origin = tmp_path / "origin"
    (origin / "flows").mkdir(parents=True)
    (origin / "flows" / "demo.yaml").write_text(FLOW, encoding="utf-8")
    git(origin, "init", "-q", "-b", "main")
    assert main(["compile", "--root", str(origin)]) == 0
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "first flow")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    git(checkout, "checkout", "-qb", "change")
    return checkout


def test_a_good_change_passes_and_its_object_diff_reaches_the_summary(
    pull_request: Path, tmp_path: Path
) -> None:
    from flowpipe_compiler.cli import main

    flow = pull_request / "flows" / "demo.yaml"
    flow.write_text(FLOW.replace("type: stdout_sink\n", "type: stdout_sink\n    threads: 3\n"))
    assert main(["compile", "--root", str(pull_request)]) == 0
    git(pull_request, "commit", "-qam", "more sink threads")
    summary = tmp_path / "summary.md"
    results = run_action(pull_request, summary)
    for name, done in results.items():
        assert done.returncode == 0, (name, done.stdout, done.stderr)
    text = summary.read_text()
    assert "### flowpipe: objects changed against main" in text
    assert "data.flow.yaml.stages[1].threads: 1 -> 3" in text
    sarif = orjson.loads((pull_request / "flowpipe.sarif").read_bytes())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []


def test_a_bad_change_fails_with_annotations_sarif_and_a_stale_output(
    pull_request: Path, tmp_path: Path
) -> None:
    flow = pull_request / "flows" / "demo.yaml"
    flow.write_text(FLOW.replace("input_queue: q", "input_queue: qq"))
    git(pull_request, "commit", "-qam", "typo")
    results = run_action(pull_request, tmp_path / "summary.md")
    validate = results["Validate flows"]
    assert validate.returncode == 1
    assert "::error file=flows/demo.yaml,line=8,col=18" in validate.stdout
    sarif: dict[str, Any] = orjson.loads((pull_request / "flowpipe.sarif").read_bytes())
    regions = [
        result["locations"][0]["physicalLocation"]["region"]
        for result in sarif["runs"][0]["results"]
    ]
    assert {(r["startLine"], r["startColumn"]) for r in regions} == {(8, 18), (10, 11)}
    assert results["Check the rendered output is committed"].returncode == 1
    assert results["Check the schema registry against the base branch"].returncode == 0


def test_an_edited_published_schema_fails_against_the_base_branch(
    pull_request: Path, tmp_path: Path
) -> None:
    origin = pull_request.parent / "origin"
    order = origin / "schemas" / "order"
    order.mkdir(parents=True)
    (order / "schema.yaml").write_text("format: JSON\nactive: 1\n")
    (order / "v1.json").write_text('{"type": "object"}\n')
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "publish order v1")
    git(pull_request, "fetch", "-q", "origin")
    git(pull_request, "reset", "-q", "--hard", "origin/main")
    (pull_request / "schemas" / "order" / "v1.json").write_text('{"type": "array"}\n')
    git(pull_request, "commit", "-qam", "rewrite history")
    done = run_action(pull_request, tmp_path / "summary.md")[
        "Check the schema registry against the base branch"
    ]
    assert done.returncode == 1
    assert "::error file=schemas/order/v1.json" in done.stdout
