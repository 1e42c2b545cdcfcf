"""The registry service: the original's endpoints over a git branch, against a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git

TOKEN = "s3cret"
TRADE_V1 = {
    "type": "object",
    "properties": {"id": {"type": "integer"}},
    "additionalProperties": False,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    (root / "schemas/trade").mkdir(parents=True)
    (root / "schemas/trade/schema.yaml").write_text("format: JSON\nactive: 1\n")
    (root / "schemas/trade/v1.json").write_text(json.dumps(TRADE_V1))
    (root / "flows").mkdir()
    (root / "flows/uses-trade.yaml").write_text(
        "name: t\nstages:\n  - {name: s, type: noop_source, output_queue: q}\n"
        "  - {name: o, type: stdout_sink, input_queue: q}\n"
        "queues:\n  - name: q\n    schema: {schema_id: trade}\n"
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "registry")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(repo: Path) -> Iterator[str]:
    yield from serve(repo, TOKEN)


def serve(repo: Path, token: str | None) -> Iterator[str]:
    """A real `flowpipe registry serve` on a free port of 127.0.0.1, stopped afterwards."""
    port = free_port()
    flowpipe = str(Path(sys.executable).parent / "flowpipe")
    env = {k: v for k, v in os.environ.items() if k != "FLOWPIPE_REGISTRY_TOKEN"}
    if token:
        env["FLOWPIPE_REGISTRY_TOKEN"] = token
    process = subprocess.Popen(
        [flowpipe, "registry", "serve", "--repo", str(repo), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/openapi.json", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "registry server did not start"
            time.sleep(0.1)
    yield url
    process.terminate()
    process.communicate(timeout=10)


def call(
    url: str, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_reads_follow_the_branch(server: str) -> None:
    assert call(server, "GET", "/v1/schemas/trade/versions") == (
        200,
        {"schema_id": "trade", "versions": [1], "active": 1},
    )
    status, version = call(server, "GET", "/v1/schemas/trade/versions/0")
    assert status == 200 and version["version"] == 1
    assert json.loads(version["raw_schema"]) == TRADE_V1
    assert call(server, "GET", "/v1/schemas/nope/versions")[0] == 404
    assert call(server, "GET", "/v1/schemas/trade/versions/9")[0] == 404


def test_each_write_is_one_commit_and_needs_the_token(server: str, repo: Path) -> None:
    before = int(git(repo, "rev-list", "--count", "main"))
    v2 = {**TRADE_V1, "properties": {"id": {"type": "integer"}, "note": {"type": "string"}}}
    body = {"schema_id": "trade", "format": "JSON", "raw_schema": json.dumps(v2)}
    assert call(server, "POST", "/v1/schemas", body, token=None)[0] == 401
    assert call(server, "POST", "/v1/schemas", body, token="wrong")[0] == 401
    assert call(server, "POST", "/v1/schemas", body) == (200, {"schema_id": "trade", "version": 2})
    assert int(git(repo, "rev-list", "--count", "main")) == before + 1
    assert git(repo, "log", "-1", "--format=%an <%ae>|%s", "main") == (
        "flowpipe registry <registry@flowpipe.invalid>|schema trade: add v2"
    )
    assert json.loads(git(repo, "show", "main:schemas/trade/v2.json")) == v2
    assert "active: 2" in git(repo, "show", "main:schemas/trade/schema.yaml")


def test_refused_writes_commit_nothing(server: str, repo: Path) -> None:
    before = git(repo, "rev-parse", "main")
    breaking = {
        "schema_id": "trade",
        "format": "JSON",
        "raw_schema": json.dumps({**TRADE_V1, "properties": {"id": {"type": "string"}}}),
    }
    status, detail = call(server, "POST", "/v1/schemas", breaking)
    assert status == 409
    assert detail["detail"][0]["rule"] == "TYPE_CHANGED"
    bad = [
        {"schema_id": "../etc", "format": "JSON", "raw_schema": "{}"},
        {"schema_id": "x", "format": "XML", "raw_schema": "{}"},
        {"schema_id": "x", "format": "JSON", "raw_schema": "{not json"},
        {"schema_id": "x", "format": "JSON", "raw_schema": '{"$ref": "http://evil/s.json"}'},
    ]
    for body in bad:
        assert call(server, "POST", "/v1/schemas", body)[0] == 400, body
    status, _ = call(server, "DELETE", "/v1/schemas/trade")
    assert status == 409  # flows/uses-trade.yaml refers to it
    assert git(repo, "rev-parse", "main") == before
    status, answer = call(
        server, "POST", "/v1/schemas/trade/compatibility", {"raw_schema": breaking["raw_schema"]}
    )
    assert status == 200 and answer["compatible"] is False


def test_delete_is_a_commit(server: str, repo: Path) -> None:
    body = {
        "schema_id": "spare",
        "format": "AVRO",
        "raw_schema": '{"type": "record", "name": "S", "fields": []}',
    }
    assert call(server, "POST", "/v1/schemas", body)[0] == 200
    assert call(server, "DELETE", "/v1/schemas/spare")[0] == 204
    assert "spare" not in git(repo, "ls-tree", "-r", "--name-only", "main")
    assert git(repo, "log", "-1", "--format=%s", "main") == "schema spare: delete"


def test_concurrent_writers_never_lose_or_share_a_version(server: str, repo: Path) -> None:
    writers, each = 8, 100
    got: list[int] = []
    failures: list[Any] = []
    lock = threading.Lock()
    body = {"schema_id": "burst", "format": "JSON", "raw_schema": '{"type": "object"}'}

    def write() -> None:
        for _ in range(each):
            status, answer = call(server, "POST", "/v1/schemas", body)
            with lock:
                if status == 200:
                    got.append(answer["version"])
                else:
                    failures.append((status, answer))

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert failures == []
    assert sorted(got) == list(range(1, writers * each + 1))
    _, versions = call(server, "GET", "/v1/schemas/burst/versions")
    assert versions["versions"] == list(range(1, writers * each + 1))
    files = git(repo, "ls-tree", "--name-only", "main", "schemas/burst/").splitlines()
    assert len(files) == writers * each + 1  # versions + schema.yaml


def test_a_registry_without_a_token_is_read_only(repo: Path) -> None:
    for url in serve(repo, token=None):
        body = {"schema_id": "x", "format": "JSON", "raw_schema": "{}"}
        assert call(url, "POST", "/v1/schemas", body, token="anything")[0] == 403
        assert call(url, "DELETE", "/v1/schemas/trade", token="anything")[0] == 403
        status, listed = call(url, "GET", "/v1/schemas")
        assert status == 200 and listed[0]["schema_id"] == "trade"


def test_api_conforms_to_its_openapi_document(server: str) -> None:
    """schemathesis, run as users run it: generated requests (with the token) never get a
    server error, and every response matches the OpenAPI document."""
    st = str(Path(sys.executable).parent / "st")
    done = subprocess.run(
        [
            st,
            "run",
            f"{server}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--max-examples",
            "25",
            "--checks",
            "not_a_server_error,status_code_conformance,"
            "content_type_conformance,response_schema_conformance",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
