"""Connectors against the real services on this machine: PostgreSQL, SQS (moto server),
NATS JetStream, Redis Streams, RabbitMQ."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from flowpipe_runtime.engine import Flow
from flowpipe_runtime.settings import Settings

from .conftest import PG_URL, make_spec, pg_rows


def run(spec: dict, tmp_path: Path, env: dict[str, str] | None = None) -> Flow:
    flow = Flow(spec, Settings(http_port=None, dead_letter_dir=str(tmp_path)), env=env or {})
    flow.start()
    assert flow.wait(timeout=120)
    return flow


def run_until(spec: dict, tmp_path: Path, done: Callable[[], bool], timeout: float = 60) -> Flow:
    """A streaming flow, drained (as on SIGTERM) once ``done()`` holds."""
    flow = Flow(spec, Settings(http_port=None, dead_letter_dir=str(tmp_path)), env={})
    flow.start()
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert not flow.failures, flow.failures
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)
    finally:
        flow.stop("test done")
        assert flow.wait(timeout=60)
    return flow


def jsonl_to_pg(tmp_path: Path, records: list[dict], config: dict[str, Any]) -> dict:
    (tmp_path / "in.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return make_spec(
        [
            {
                "name": "read",
                "type": "file_source",
                "output_queue": "lines",
                "config": {"paths": [str(tmp_path / "in.jsonl")]},
            },
            {"name": "parse", "type": "json_parser", "input_queue": "lines", "output_queue": "q"},
            {
                "name": "db",
                "type": "db_writer",
                "threads": 2,
                "input_queue": "q",
                "config": {"url": PG_URL, **config},
            },
        ],
        [{"name": "lines", "capacity": 64}, {"name": "q", "capacity": 64}],
    )


# -- PostgreSQL --------------------------------------------------------------------------


def test_postgres_appends_with_copy_and_upserts_idempotently(tmp_path: Path, pg_table: str) -> None:
    records = [{"k": i, "v": f"v{i}", "doc": {"n": i, "tags": ["a"]}} for i in range(1000)]
    append = {"table": pg_table, "batch_size": 100}
    for _ in range(2):
        assert run(jsonl_to_pg(tmp_path, records, append), tmp_path).failures == []
    assert pg_rows(pg_table, "SELECT count(*), count(DISTINCT k) FROM {t}") == [(2000, 1000)]
    assert pg_rows(pg_table, "SELECT doc FROM {t} WHERE k = 7 LIMIT 1") == [
        ({"n": 7, "tags": ["a"]},)
    ]


def test_postgres_upsert_keeps_one_row_per_key_and_the_last_value(
    tmp_path: Path, pg_table: str
) -> None:
    upsert = {"table": pg_table, "mode": "upsert", "key_columns": ["k"]}
    first = [{"k": i, "v": "old"} for i in range(500)]
    assert run(jsonl_to_pg(tmp_path, first, upsert), tmp_path).failures == []
    again = [{"k": i, "v": "new"} for i in range(250, 750)] + [
        {"k": 0, "v": "x"},
        {"k": 0, "v": "y"},
    ]
    assert run(jsonl_to_pg(tmp_path, again, upsert), tmp_path).failures == []
    assert pg_rows(pg_table, "SELECT count(*), count(DISTINCT k) FROM {t}") == [(750, 750)]
    assert pg_rows(pg_table, "SELECT v, count(*) FROM {t} GROUP BY v ORDER BY v") == [
        ("new", 500),
        ("old", 249),
        ("y", 1),
    ]


def test_postgres_refused_rows_go_to_the_dead_letter_and_the_rest_is_written(
    tmp_path: Path, pg_table: str
) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_table}" (k bigint PRIMARY KEY, v text NOT NULL)')
    records = [{"k": i, "v": f"v{i}"} for i in range(100)]
    records[10] = {"k": 10, "v": None}  # NOT NULL
    records[20] = {"k": "twenty", "v": "x"}  # not a bigint
    records[30] = {"k": 30, "v": "x", "extra": 1}  # no such column
    flow = run(jsonl_to_pg(tmp_path, records, {"table": pg_table, "create_table": False}), tmp_path)
    assert flow.failures == []
    assert [k for (k,) in pg_rows(pg_table, "SELECT k FROM {t} ORDER BY k")] == [
        i for i in range(100) if i not in (10, 20, 30)
    ]
    dead = [
        orjson.loads(line)
        for line in (tmp_path / "t.db.dead-letter.jsonl").read_bytes().splitlines()
    ]
    by_key = {str(d["record"]["k"]): d["reason"] for d in dead}
    assert set(by_key) == {"10", "twenty", "30"}
    assert "null value" in by_key["10"] and "database refused the row" in by_key["10"]
    assert "bigint" in by_key["twenty"]
    assert "has no column ['extra']" in by_key["30"]
    assert flow.summary()["dead_letters"] == {"db": 3}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"url": "postgresql://postgres@127.0.0.1:1/test"},
            "could not start: cannot connect to PostgreSQL at 127.0.0.1:1",
        ),
        (
            {"url": "postgresql://nobody@127.0.0.1:5432/test"},
            'role "nobody" does not exist',
        ),
        ({"create_table": False}, "does not exist in database 'test'"),
    ],
)
def test_postgres_start_up_errors_name_the_stage_and_the_cause(
    tmp_path: Path, pg_table: str, config: dict[str, Any], message: str
) -> None:
    spec = jsonl_to_pg(tmp_path, [{"k": 1}], {"table": pg_table, **config})
    flow = run(spec, tmp_path)
    assert flow.startup_failures and flow.failures == flow.startup_failures
    assert all(f.startswith("stage 'db' (db_writer) could not start: ") for f in flow.failures)
    assert message in flow.failures[0]


# -- SQS (moto server) -------------------------------------------------------------------


def sqs_to_pg(url: str, endpoint: str, table: str, extra: dict[str, Any] | None = None) -> dict:
    return make_spec(
        [
            {
                "name": "receive",
                "type": "sqs_listener",
                "threads": 2,
                "output_queue": "lines",
                "config": {
                    "queue_url": url,
                    "endpoint_url": endpoint,
                    "wait_time_seconds": 1,
                    "visibility_timeout": 30,
                    **(extra or {}),
                },
            },
            {
                "name": "parse",
                "type": "csv_parser",
                "input_queue": "lines",
                "output_queue": "rows",
                "config": {
                    "header": False,
                    "columns": [{"name": "id", "type": "int"}, {"name": "text"}],
                },
            },
            {
                "name": "store",
                "type": "db_writer",
                "input_queue": "rows",
                "config": {"url": PG_URL, "table": table, "mode": "upsert", "key_columns": ["id"]},
            },
        ],
        [{"name": "lines", "capacity": 256}, {"name": "rows", "capacity": 256}],
        mode="EXECUTION_MODE_STREAMING",
    )


def send(client: Any, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        client.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ],
        )


def queue_is_empty(client: Any, url: str) -> bool:
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def pg_count(table: str) -> int:
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{table}"',)).fetchone()
        if exists is None or exists[0] is None:
            return 0
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(row[0]) if row else 0


def test_sqs_messages_are_deleted_only_after_postgres_committed_them(
    tmp_path: Path, sqs_queue: tuple[Any, str], moto_endpoint: str, pg_table: str
) -> None:
    client, url = sqs_queue
    send(client, url, [f"{i},text {i}" for i in range(600)] + ["not-a-number,x"])
    flow = run_until(
        sqs_to_pg(url, moto_endpoint, pg_table),
        tmp_path,
        lambda: pg_count(pg_table) == 600 and queue_is_empty(client, url),
    )
    assert flow.failures == []
    assert pg_rows(pg_table, "SELECT count(DISTINCT id), min(id), max(id) FROM {t}") == [
        (600, 0, 599)
    ]
    assert flow.summary()["acknowledged"] == {"receive": 601}
    assert flow.summary()["dead_letters"] == {"parse": 1}


def test_sqs_visibility_is_extended_while_a_slow_batch_is_in_flight(
    tmp_path: Path, sqs_queue: tuple[Any, str], moto_endpoint: str, pg_table: str
) -> None:
    client, url = sqs_queue
    send(client, url, [f"{i},slow" for i in range(20)])
    spec = sqs_to_pg(url, moto_endpoint, pg_table, {"visibility_timeout": 2})
    spec["stages"][0]["threads"] = 1
    spec["stages"].insert(
        2,
        {
            "name": "slow",
            "type": "noop_transform",
            "kind": "transform",
            "threads": 1,
            "input_queue": "rows",
            "output_queue": "slow_rows",
            "config": {"delay_ms": 250},
        },
    )
    spec["stages"][3]["input_queue"] = "slow_rows"
    spec["stages"][3]["config"]["mode"] = "append"
    spec["stages"][3]["config"].pop("key_columns")
    spec["queues"].append({"name": "slow_rows", "capacity": 256, "type": "QUEUE_TYPE_IN_MEMORY"})
    started = time.monotonic()
    flow = run_until(
        spec, tmp_path, lambda: pg_count(pg_table) >= 20 and queue_is_empty(client, url)
    )
    assert time.monotonic() - started > 4, "the batch took longer than the visibility timeout"
    assert flow.failures == []
    # Without the extension the messages would have come back and been written twice.
    assert pg_rows(pg_table, "SELECT count(*), count(DISTINCT id) FROM {t}") == [(20, 20)]


def test_sqs_start_up_error_names_the_queue(
    tmp_path: Path, moto_endpoint: str, pg_table: str
) -> None:
    missing = f"{moto_endpoint}/123456789012/no-such-queue"
    flow = run(sqs_to_pg(missing, moto_endpoint, pg_table), tmp_path)
    assert flow.failures == flow.startup_failures
    assert "stage 'receive' (sqs_listener) could not start: SQS queue" in flow.failures[0]
    assert "NonExistentQueue" in flow.failures[0] or "does not exist" in flow.failures[0]
