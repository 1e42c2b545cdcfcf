"""The runtime as Kubernetes runs it: a real process, real signals, real HTTP probes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import make_spec

RUNTIME = str(Path(sys.executable).parent / "flowpipe-runtime")


def write_spec(tmp_path: Path, spec: dict[str, Any]) -> str:
    path = tmp_path / "flow.json"
    path.write_bytes(orjson.dumps(spec))
    return str(path)


def start(spec_path: str, *args: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [RUNTIME, spec_path, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )


def run_to_end(
    tmp_path: Path, spec: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the runtime on ``spec`` until it exits (health server off unless args say)."""
    return subprocess.run(
        [RUNTIME, write_spec(tmp_path, spec), "--http-port", "off", *args],
        capture_output=True,
        timeout=60,
        check=False,
        env=env,
    )


def logs(stderr: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.decode().splitlines()]


def test_job_runs_to_completion_and_stdout_holds_only_data(tmp_path: Path) -> None:
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "noop_source",
                "output_queue": "q",
                "config": {"message": "m", "max_messages": 5000},
            },
            {"name": "out", "type": "stdout_sink", "input_queue": "q"},
        ],
        [{"name": "q", "capacity": 64}],
    )
    done = run_to_end(tmp_path, spec)
    assert done.returncode == 0
    assert done.stdout == b"m\n" * 5000
    finished = logs(done.stderr)[-1]
    assert finished["message"] == "flow finished"
    assert finished["stages"] == {"src": 5000, "out": 5000}


def test_sink_threads_never_interleave_partial_records(tmp_path: Path) -> None:
    message = "".join(chr(ord("a") + i % 26) for i in range(20_000))
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "noop_source",
                "threads": 2,
                "output_queue": "q",
                "config": {"message": message, "max_messages": 2000},
            },
            {"name": "out", "type": "stdout_sink", "threads": 4, "input_queue": "q"},
        ],
        [{"name": "q", "capacity": 16}],
    )
    done = run_to_end(tmp_path, spec, "--batch-size", "3")
    assert done.returncode == 0
    lines = done.stdout.decode().split("\n")
    assert lines[-1] == ""
    assert len(lines) - 1 == 2000
    assert all(line == message for line in lines[:-1])


def test_unsupported_format_version_is_refused_with_exit_2(tmp_path: Path) -> None:
    spec = make_spec(
        [
            {"name": "s", "type": "noop_source", "output_queue": "q"},
            {"name": "o", "type": "stdout_sink", "input_queue": "q"},
        ],
        [{"name": "q"}],
    )
    spec["format_version"] = 99
    done = run_to_end(tmp_path, spec)
    assert done.returncode == 2
    (entry,) = logs(done.stderr)
    assert entry["level"] == "error"
    assert "format_version 99 is not supported" in entry["message"]


def test_unknown_stage_type_is_a_start_up_error_naming_installed_types(tmp_path: Path) -> None:
    spec = make_spec(
        [
            {"name": "s", "type": "noop_source", "output_queue": "q"},
            {"name": "o", "type": "stdout_sink", "input_queue": "q"},
        ],
        [{"name": "q"}],
    )
    spec["stages"][1]["type"] = "kafka_sink"
    done = run_to_end(tmp_path, spec)
    assert done.returncode == 2
    assert b"stage 'o': unknown stage type 'kafka_sink'; installed types: " in done.stderr
    assert b"Traceback" not in done.stderr


def slow_streaming_spec(out: Path) -> dict[str, Any]:
    return make_spec(
        [
            {
                "name": "src",
                "type": "noop_source",
                "output_queue": "a",
                "config": {"message": "r", "delay_ms": 1},
            },
            {
                "name": "slow",
                "type": "noop_transform",
                "input_queue": "a",
                "output_queue": "b",
                "config": {"delay_ms": 20},
            },
            {"name": "out", "type": "file_sink", "input_queue": "b", "config": {"path": str(out)}},
        ],
        [{"name": "a", "capacity": 40}, {"name": "b", "capacity": 8}],
        mode="EXECUTION_MODE_STREAMING",
        name="slow",
    )


def http_port(process: subprocess.Popen[bytes]) -> int:
    assert process.stderr is not None
    line = process.stderr.readline()
    entry = json.loads(line)
    assert entry["message"] == "flow starting"
    return int(entry["http_port"])


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:  # the server is gone: the process is ending
        return 0, ""


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 20
    while get(port, "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.05)


def test_sigterm_drains_everything_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    process = start(write_spec(tmp_path, slow_streaming_spec(out)), "--http-port", "0")
    port = http_port(process)
    wait_ready(port)
    assert get(port, "/healthz") == (200, "ok\n")
    time.sleep(0.5)
    status, metrics = get(port, "/metrics")
    assert status == 200
    assert 'flowpipe_queue_enqueue_count_total{flow="slow",queue="a"}' in metrics
    assert 'flowpipe_stage_process_count_total{flow="slow",stage="src"}' in metrics
    assert 'flowpipe_source_ack_count_total{flow="slow",stage="src"}' in metrics
    assert "flowpipe_queue_dwell_ns_bucket" in metrics
    process.send_signal(signal.SIGTERM)
    saw_not_ready = False
    deadline = time.monotonic() + 2
    while not saw_not_ready and time.monotonic() < deadline:  # the drain lasts about 1 s
        saw_not_ready = get(port, "/readyz")[0] == 503
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert saw_not_ready
    finished = logs(stderr)[-1]
    produced = finished["stages"]["src"]
    assert produced > 0
    assert finished["stages"]["out"] == produced
    assert out.read_text().splitlines() == ['"r"'] * produced


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    process = start(
        write_spec(tmp_path, slow_streaming_spec(tmp_path / "o.jsonl")), "--http-port", "0"
    )
    wait_ready(http_port(process))
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)
    assert process.returncode == 130


def test_a_drain_longer_than_the_grace_period_fails(tmp_path: Path) -> None:
    process = start(
        write_spec(tmp_path, slow_streaming_spec(tmp_path / "o.jsonl")),
        "--http-port",
        "0",
        "--grace-period",
        "0.2",
    )
    wait_ready(http_port(process))
    time.sleep(0.5)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 1
    assert time.monotonic() - started < 3
    assert b"longer than the grace period" in stderr


def test_a_job_stopped_before_its_end_exits_143(tmp_path: Path) -> None:
    spec = slow_streaming_spec(tmp_path / "o.jsonl")
    spec["execution"]["mode"] = "EXECUTION_MODE_JOB"
    process = start(write_spec(tmp_path, spec), "--http-port", "0")
    wait_ready(http_port(process))
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 143


@pytest.mark.parametrize("index", [0, 1, 2])
def test_file_source_reads_its_share_in_an_indexed_job(tmp_path: Path, index: int) -> None:
    for i in range(7):
        (tmp_path / f"part-{i}.txt").write_text(f"file {i}\n")
    spec = make_spec(
        [
            {
                "name": "read",
                "type": "file_source",
                "output_queue": "q",
                "config": {"paths": [str(tmp_path / "part-*.txt")]},
            },
            {"name": "out", "type": "stdout_sink", "input_queue": "q"},
        ],
        [{"name": "q"}],
    )
    env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), "FLOWPIPE_JOB_COMPLETIONS": "3"}
    done = run_to_end(tmp_path, spec, env=env)
    assert done.returncode == 0
    assert done.stdout.decode().splitlines() == [f"file {i}" for i in range(index, 7, 3)]


def test_settings_come_from_the_flows_env_too(tmp_path: Path) -> None:
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "noop_source",
                "output_queue": "q",
                "config": {"max_messages": 3},
            },
            {"name": "out", "type": "stdout_sink", "input_queue": "q"},
        ],
        [{"name": "q"}],
    )
    spec["env"] = {"FLOWPIPE_LOG_LEVEL": "WARNING", "FLOWPIPE_HTTP_PORT": "off"}
    done = subprocess.run(
        [RUNTIME, write_spec(tmp_path, spec)], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout == b"hello\n" * 3
    assert done.stderr == b""  # info lines (flow starting/finished) are below WARNING
