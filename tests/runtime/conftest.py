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


def run_flow(spec: dict[str, Any], tmp_path: Any, timeout: float = 120) -> Any:
    """Run ``spec`` to its end in this process (dead letters in ``tmp_path``)."""
    from flowpipe_runtime.engine import Flow
    from flowpipe_runtime.settings import Settings

    flow = Flow(spec, Settings(http_port=None, dead_letter_dir=str(tmp_path)), env={})
    flow.start()
    assert flow.wait(timeout=timeout)
    return flow


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
        "secret_env": {},
        "kubernetes": {},
        "kubernetes_options": {"streaming_workload_kind": "STREAMING_WORKLOAD_KIND_DEPLOYMENT"},
    }


# -- the real services on this machine (.ci/run starts any that is down) -------------------

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
NATS_URL = "nats://127.0.0.1:4222"
REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode: a real SQS HTTP endpoint on 127.0.0.1."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    os.environ.update(AWS_ENV)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


@pytest.fixture
def sqs_queue(moto_endpoint: str) -> Iterator[tuple[Any, str]]:
    """A new SQS queue: the boto3 client and the queue URL."""
    import uuid

    import boto3

    client = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = client.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    yield client, url
    client.delete_queue(QueueUrl=url)


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A table name unique to the test, dropped afterwards."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')


def pg_rows(table: str, query: str = "SELECT * FROM {t} ORDER BY 1") -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        return conn.execute(query.format(t=f'"{table}"')).fetchall()


MARIADB_URL = "mariadb://root@127.0.0.1:3306/test"


@pytest.fixture
def mariadb_table() -> Iterator[str]:
    import uuid

    import pymysql

    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test")
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS `{name}`")
    conn.close()


def mariadb_rows(query: str) -> list[tuple[Any, ...]]:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test")
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return list(cur.fetchall())
    finally:
        conn.close()
