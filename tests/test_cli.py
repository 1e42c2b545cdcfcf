"""The CLI as a user runs it: exit codes, output formats, spec and graph, discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from flowpipe_compiler import schemas

from .conftest import REPO, Outcome

GOOD = (
    "name: demo\nstages:\n  - name: src\n    type: noop_source\n    output_queue: q\n"
    "  - name: sink\n    type: stdout_sink\n    input_queue: q\nqueues:\n  - name: q\n"
)
BAD = GOOD.replace("input_queue: q", "input_queue: qq")
Run = Callable[..., Outcome]


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_default_path_is_flows_and_clean_exits_0(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/a.yaml", GOOD)
    result = flowpipe("validate")
    assert result.code == 0
    assert result.out == "1 file checked, no problems\n"


def test_keeps_going_past_bad_files_and_reports_all(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/1-bad.yaml", BAD)
    write(repo, "flows/2-broken.yaml", "name: [\n")
    write(repo, "flows/3-good.yaml", GOOD.replace("demo", "other"))
    result = flowpipe("validate", "flows")
    assert result.code == 1
    assert "flows/1-bad.yaml:8:18: error[FP208]" in result.out
    assert "flows/2-broken.yaml:2:1: error[FP001]" in result.out
    assert result.out.endswith("(2 of 3 files with errors)\n")


def test_warnings_pass_unless_strict(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/w.yaml", GOOD.replace("stdout_sink", "db_writer"))
    assert flowpipe("validate").code == 0
    assert flowpipe("validate", "--strict").code == 1


def test_usage_error_exits_2(repo: Path, flowpipe: Run) -> None:
    result = flowpipe("validate", "--format", "xml")
    assert result.code == 2
    assert "Invalid value for '--format'" in result.err


def test_internal_error_exits_3_with_a_pointer_to_traceback(
    repo: Path, flowpipe: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("flowpipe_compiler.commands.validate.check_paths", explode)
    result = flowpipe("validate")
    assert result.code == 3
    assert "internal error: RuntimeError: boom" in result.err
    assert "--traceback" in result.err
    assert "Traceback" not in result.err
    assert "Traceback" in flowpipe("--traceback", "validate").err


def test_interrupt_exits_130(repo: Path, flowpipe: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("flowpipe_compiler.commands.validate.check_paths", interrupt)
    assert flowpipe("validate").code == 130


def test_json_format(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/bad.yaml", BAD)
    result = flowpipe("validate", "--format", "json")
    document = json.loads(result.out)
    assert document["summary"] == {"files": 1, "errors": 2, "warnings": 0}
    first = document["files"][0]["diagnostics"][0]
    assert first["code"] == "FP208"
    assert (first["line"], first["column"], first["end_column"]) == (8, 18, 20)
    assert first["json_path"] == "$.stages[1].input_queue"
    assert first["hint"] == "did you mean 'q'?"


def test_github_format(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/bad.yaml", BAD)
    lines = flowpipe("validate", "--format", "github").out.splitlines()
    assert lines[0] == (
        "::error file=flows/bad.yaml,line=8,col=18,endColumn=20,title=FP208 unknown-queue::"
        "stage 'sink' uses queue 'qq', which is not defined%0Ahint: did you mean 'q'?"
    )


def test_sarif_is_valid_against_the_sarif_2_1_0_schema(repo: Path, flowpipe: Run) -> None:
    schema_file = REPO / ".cache" / "sarif-schema-2.1.0.json"
    assert schema_file.exists(), "run `make setup` to fetch the SARIF schema"
    write(repo, "flows/bad.yaml", BAD)
    write(repo, "flows/empty/.keep", "")
    log = json.loads(flowpipe("validate", "--format", "sarif", "flows/empty", "flows").out)
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["FP009", "FP208", "FP210"]
    region = results[1]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 8, "startColumn": 18, "endColumn": 20}


def test_spec_is_canonical_and_deterministic(repo: Path, flowpipe: Run) -> None:
    short = GOOD.replace("name: demo\n", "name: demo\nexecution: {mode: job}\n")
    full = GOOD.replace("name: demo\n", "name: demo\nexecution: {mode: EXECUTION_MODE_JOB}\n")
    write(repo, "flows/short.yaml", short)
    write(repo, "flows/full.json", json.dumps(json.loads(json.dumps(_yaml(full)))))
    a = flowpipe("spec", "flows/short.yaml")
    b = flowpipe("spec", "flows/full.json")
    assert a.code == b.code == 0
    assert a.out == b.out
    assert "mode: EXECUTION_MODE_JOB" in a.out
    assert flowpipe("spec", "flows/short.yaml").out == a.out
    as_json = json.loads(flowpipe("spec", "--json", "flows/short.yaml").out)
    assert as_json["stages"][0] == {
        "config": {"delay_ms": 0, "max_messages": 0, "message": "hello"},
        "kind": "source",
        "name": "src",
        "output_queue": "q",
        "threads": 1,
        "type": "noop_source",
    }
    assert as_json["queues"] == [{"capacity": 128, "name": "q", "type": "QUEUE_TYPE_IN_MEMORY"}]


def _yaml(text: str) -> object:
    from flowpipe_compiler.source import load

    return load("x.yaml", text).data


def test_spec_of_a_bad_flow_prints_findings_on_stderr(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/bad.yaml", BAD)
    result = flowpipe("spec", "flows/bad.yaml")
    assert result.code == 1
    assert result.out == ""
    assert "error[FP208]" in result.err


def test_example_flows_compile_to_specs_the_compiled_schema_accepts(flowpipe: Run) -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(schemas.load(schemas.COMPILED_SCHEMA))
    flows = sorted((REPO / "flows").rglob("*.yaml"))
    assert len(flows) >= 8
    for flow in flows:
        result = flowpipe("spec", "--json", "--root", str(REPO), str(flow))
        assert result.code == 0, result.err
        errors = [e.message for e in validator.iter_errors(json.loads(result.out))]
        assert errors == [], flow


def test_graph_mermaid_and_dot(repo: Path, flowpipe: Run) -> None:
    write(repo, "flows/a.yaml", GOOD)
    mermaid = flowpipe("graph", "flows/a.yaml").out
    assert mermaid.splitlines()[0] == "flowchart LR"
    assert "  s0 --> q0" in mermaid and "  q0 --> s1" in mermaid
    assert 'q0[("q<br/>capacity 128")]' in mermaid
    dot = flowpipe("graph", "--format", "dot", "flows/a.yaml").out
    assert dot.startswith('digraph "demo" {') and "  s0 -> q0;" in dot
    if shutil_which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot, text=True, check=True, capture_output=True)


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def test_missing_path_outside_root_and_escaping_symlink(
    repo: Path, flowpipe: Run, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text(GOOD, encoding="utf-8")
    (repo / "flows").mkdir()
    (repo / "flows" / "link.yaml").symlink_to(outside)
    write(repo, "flows/ok.yaml", GOOD)
    result = flowpipe("validate", "flows", "nope.yaml", str(outside))
    assert result.code == 1
    assert "flows/link.yaml: error[FP008]: symlink points outside the repository root" in result.out
    assert "nope.yaml: error[FP008]: no such file or directory" in result.out
    assert "error[FP008]: path resolves outside the repository root" in result.out
    assert "secret" not in result.out.split("path resolves")[0].split("flows/link.yaml")[0]


def test_fifo_and_directory_without_flows_neither_hang_nor_crash(repo: Path, flowpipe: Run) -> None:
    os.mkfifo(repo / "pipe.yaml")
    (repo / "empty").mkdir()
    result = flowpipe("validate", "pipe.yaml", "empty")
    assert result.code == 1
    assert "pipe.yaml: error[FP008]: cannot read: not a regular file" in result.out
    assert "empty: error[FP009]" in result.out


def test_console_script_runs_in_a_fresh_process(repo: Path) -> None:
    write(repo, "flows/bad.yaml", BAD)
    flowpipe = Path(sys.executable).parent / "flowpipe"
    done = subprocess.run([str(flowpipe), "validate"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout.startswith("flows/bad.yaml:8:18: error[FP208]")
    assert done.stderr == ""


def test_generated_docs_and_compiled_schema_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flowpipe_compiler.docgen", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
