"""Connectors against the real services on this machine: PostgreSQL, SQS (moto server),
NATS JetStream, Redis Streams, RabbitMQ."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from flowpipe_runtime.engine import Flow
from flowpipe_runtime.settings import Settings

from .conftest import (
    AMQP_URL,
    MARIADB_URL,
    NATS_URL,
    PG_URL,
    REDIS_URL,
    make_spec,
    mariadb_rows,
    pg_rows,
    run_flow,
)


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
        assert run_flow(jsonl_to_pg(tmp_path, records, append), tmp_path).failures == []
    assert pg_rows(pg_table, "SELECT count(*), count(DISTINCT k) FROM {t}") == [(2000, 1000)]
    assert pg_rows(pg_table, "SELECT doc FROM {t} WHERE k = 7 LIMIT 1") == [
        ({"n": 7, "tags": ["a"]},)
    ]


def test_postgres_upsert_keeps_one_row_per_key_and_the_last_value(
    tmp_path: Path, pg_table: str
) -> None:
    upsert = {"table": pg_table, "mode": "upsert", "key_columns": ["k"]}
    first = [{"k": i, "v": "old"} for i in range(500)]
    assert run_flow(jsonl_to_pg(tmp_path, first, upsert), tmp_path).failures == []
    again = [{"k": i, "v": "new"} for i in range(250, 750)] + [
        {"k": 0, "v": "x"},
        {"k": 0, "v": "y"},
    ]
    spec = jsonl_to_pg(tmp_path, again, upsert)
    spec["stages"][2]["threads"] = 1  # one writer: the later record of a key wins
    assert run_flow(spec, tmp_path).failures == []
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
    flow = run_flow(
        jsonl_to_pg(tmp_path, records, {"table": pg_table, "create_table": False}), tmp_path
    )
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
    flow = run_flow(spec, tmp_path)
    assert flow.startup_failures and flow.failures == flow.startup_failures
    assert all(f.startswith("stage 'db' (db_writer) could not start: ") for f in flow.failures)
    assert message in flow.failures[0]


# -- SQS (moto server) -------------------------------------------------------------------


def pace(spec: dict[str, Any], queue: str, delay_ms: float) -> None:
    """Slow the consumer of ``queue`` down: a noop_transform taking ``delay_ms`` a record."""
    consumer = next(s for s in spec["stages"] if s.get("input_queue") == queue)
    consumer["input_queue"] = f"{queue}_paced"
    spec["stages"].insert(
        spec["stages"].index(consumer),
        {
            "name": "pace",
            "type": "noop_transform",
            "kind": "transform",
            "threads": 1,
            "input_queue": queue,
            "output_queue": f"{queue}_paced",
            "config": {"delay_ms": delay_ms},
        },
    )
    spec["queues"].append(
        {"name": f"{queue}_paced", "capacity": 64, "type": "QUEUE_TYPE_IN_MEMORY"}
    )


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
    # Every message was deleted (the queue is empty); at-least-once may receive one twice.
    assert flow.summary()["acknowledged"]["receive"] >= 601
    # The bad line reaches the dead letter (twice if moto handed it to both receivers).
    assert flow.summary()["dead_letters"]["parse"] >= 1
    dead = (tmp_path / "t.parse.dead-letter.jsonl").read_text().splitlines()
    assert {orjson.loads(line)["record"] for line in dead} == {"not-a-number,x"}


def test_sqs_visibility_is_extended_while_a_slow_batch_is_in_flight(
    tmp_path: Path, sqs_queue: tuple[Any, str], moto_endpoint: str, pg_table: str
) -> None:
    client, url = sqs_queue
    send(client, url, [f"{i},slow" for i in range(20)])
    spec = sqs_to_pg(url, moto_endpoint, pg_table, {"visibility_timeout": 2})
    spec["stages"][0]["threads"] = 1
    pace(spec, "rows", delay_ms=250)
    spec["stages"][3]["config"]["mode"] = "append"
    spec["stages"][3]["config"].pop("key_columns")
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
    flow = run_flow(sqs_to_pg(missing, moto_endpoint, pg_table), tmp_path)
    assert flow.failures == flow.startup_failures
    assert "stage 'receive' (sqs_listener) could not start: SQS queue" in flow.failures[0]
    assert "NonExistentQueue" in flow.failures[0] or "does not exist" in flow.failures[0]


# -- NATS JetStream, Redis Streams, RabbitMQ ---------------------------------------------


def source_to_collect(source: dict[str, Any], threads: int = 2) -> dict:
    return make_spec(
        [
            {"name": "in", "threads": threads, "output_queue": "q", **source},
            {"name": "out", "type": "collect", "input_queue": "q", "config": {"key": "rows"}},
        ],
        [{"name": "q", "capacity": 512}],
        mode="EXECUTION_MODE_STREAMING",
    )


def collected() -> list[Any]:
    from . import teststages

    return teststages.COLLECTED.get("rows", [])


async def _nats(action: Callable[[Any], Any]) -> Any:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


def nats_call(action: Callable[[Any], Any]) -> Any:
    import asyncio

    return asyncio.run(_nats(action))


@pytest.fixture
def nats_stream() -> Iterator[str]:
    import uuid

    name = f"S{uuid.uuid4().hex[:10]}"
    nats_call(lambda js: js.add_stream(name=name, subjects=[f"{name}.>"]))
    yield name
    nats_call(lambda js: js.delete_stream(name))


def test_nats_source_acks_after_commit_and_nats_sink_publishes(
    tmp_path: Path, nats_stream: str
) -> None:
    async def publish(js: Any) -> None:
        for i in range(3000):
            await js.publish(f"{nats_stream}.in", f"m{i}".encode())

    nats_call(publish)
    sink = {
        "name": "out",
        "type": "nats_sink",
        "input_queue": "q",
        "config": {"url": NATS_URL, "subject": f"{nats_stream}.out"},
    }
    spec = source_to_collect(
        {
            "type": "nats_source",
            "config": {"url": NATS_URL, "stream": nats_stream, "subject": f"{nats_stream}.in"},
        }
    )
    spec["stages"][1] = {**spec["stages"][1], **sink, "kind": "sink"}

    def info(js: Any) -> Any:
        return js.consumer_info(nats_stream, "t-in")

    def done() -> bool:
        from nats.js.errors import NotFoundError

        try:
            consumer = nats_call(info)
        except NotFoundError:  # not created yet
            return False
        return consumer.num_pending == 0 and consumer.num_ack_pending == 0

    flow = run_until(spec, tmp_path, done)
    assert flow.failures == [] and flow.summary()["acknowledged"] == {"in": 3000}

    stream = nats_call(lambda js: js.stream_info(nats_stream))
    assert stream.state.messages == 6000, stream.state

    async def published(js: Any) -> list[str]:
        sub = await js.pull_subscribe(f"{nats_stream}.out", durable="check", stream=nats_stream)
        out: list[str] = []
        while len(out) < 3000:
            for message in await sub.fetch(500, timeout=5):
                out.append(message.data.decode())
                await message.ack()
        return out

    assert sorted(nats_call(published)) == sorted(f"m{i}" for i in range(3000))


def test_nats_source_start_up_error_names_the_missing_stream(tmp_path: Path) -> None:
    spec = source_to_collect(
        {"type": "nats_source", "config": {"url": NATS_URL, "stream": "NOPE", "subject": "x"}},
        threads=1,
    )
    flow = run_flow(spec, tmp_path)
    assert flow.failures == flow.startup_failures
    assert (
        "stage 'in' (nats_source) could not start: NATS stream 'NOPE' does not exist"
        in (flow.failures[0])
    )


@pytest.fixture
def redis_stream() -> Iterator[str]:
    import uuid

    import redis

    name = f"s-{uuid.uuid4().hex[:10]}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name, name + "-out")


def test_redis_stream_source_xacks_after_commit_and_sink_appends(
    tmp_path: Path, redis_stream: str
) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    pipe = client.pipeline()
    for i in range(2500):
        pipe.xadd(redis_stream, {"id": str(i), "text": f"t{i}"})
    pipe.execute()
    spec = source_to_collect(
        {"type": "redis_stream_source", "config": {"url": REDIS_URL, "stream": redis_stream}}
    )
    spec["stages"][1] = {
        "name": "out",
        "type": "redis_stream_sink",
        "kind": "sink",
        "threads": 1,
        "input_queue": "q",
        "config": {"url": REDIS_URL, "stream": redis_stream + "-out"},
    }

    def done() -> bool:
        groups = client.xinfo_groups(redis_stream)
        return (
            bool(groups)
            and groups[0]["pending"] == 0
            and client.xlen(redis_stream + "-out") == 2500
        )

    flow = run_until(spec, tmp_path, done)
    assert flow.failures == [] and flow.summary()["acknowledged"] == {"in": 2500}
    out = client.xrange(redis_stream + "-out")
    assert sorted(int(fields["id"]) for _, fields in out) == list(range(2500))


def test_redis_stream_source_rereads_its_own_pending_entries_after_a_crash(
    tmp_path: Path, redis_stream: str
) -> None:
    import os

    import redis

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    for i in range(10):
        client.xadd(redis_stream, {"id": str(i)})
    group = "t-in"
    client.xgroup_create(redis_stream, group, id="0")
    consumer = f"{os.environ.get('HOSTNAME', 'local')}-0"
    # A previous run read 6 entries and died before committing them.
    client.xreadgroup(group, consumer, {redis_stream: ">"}, count=6)
    spec = source_to_collect(
        {"type": "redis_stream_source", "config": {"url": REDIS_URL, "stream": redis_stream}},
        threads=1,
    )
    flow = run_until(spec, tmp_path, lambda: len(collected()) >= 10)
    assert flow.failures == []
    assert sorted(int(r["id"]) for r in collected()) == list(range(10))
    assert client.xinfo_groups(redis_stream)[0]["pending"] == 0


@pytest.fixture
def amqp_queue() -> Iterator[str]:
    import uuid

    import pika

    name = f"q-{uuid.uuid4().hex[:10]}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.queue_declare(name, durable=True)
    yield name
    channel.queue_delete(name)
    connection.close()


def amqp_depth(queue: str) -> tuple[int, int]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        declared = connection.channel().queue_declare(queue, passive=True).method
        return declared.message_count, declared.consumer_count
    finally:
        connection.close()


def test_rabbitmq_source_acks_after_commit(tmp_path: Path, amqp_queue: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    for i in range(2000):
        channel.basic_publish("", amqp_queue, f"m{i}".encode())
    connection.close()
    spec = source_to_collect(
        {"type": "rabbitmq_source", "config": {"url": AMQP_URL, "queue": amqp_queue}}
    )
    flow = run_until(spec, tmp_path, lambda: len(collected()) >= 2000)
    assert flow.failures == []
    assert sorted(collected()) == sorted(f"m{i}" for i in range(2000))
    assert flow.summary()["acknowledged"] == {"in": 2000}
    # Every message acknowledged: none comes back once the consumers are gone.
    assert amqp_depth(amqp_queue) == (0, 0)


def test_rabbitmq_source_start_up_error_names_the_queue(tmp_path: Path) -> None:
    spec = source_to_collect(
        {"type": "rabbitmq_source", "config": {"url": AMQP_URL, "queue": "no-such-queue"}},
        threads=1,
    )
    flow = run_flow(spec, tmp_path)
    assert flow.failures == flow.startup_failures
    assert "RabbitMQ queue 'no-such-queue'" in flow.failures[0] and "NOT_FOUND" in flow.failures[0]


def csv_lines_to_pg(tmp_path: Path, lines: list[str], config: dict[str, Any]) -> dict:
    (tmp_path / "in.csv").write_text("".join(line + "\n" for line in lines))
    return make_spec(
        [
            {
                "name": "read",
                "type": "file_source",
                "output_queue": "lines",
                "config": {"paths": [str(tmp_path / "in.csv")]},
            },
            {
                "name": "db",
                "type": "db_writer",
                "threads": 2,
                "input_queue": "lines",
                "config": {"url": PG_URL, "csv_columns": ["k", "v"], **config},
            },
        ],
        [{"name": "lines", "capacity": 64}],
    )


def test_postgres_copies_csv_lines_itself_and_dead_letters_only_the_refused_ones(
    tmp_path: Path, pg_table: str
) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_table}" (k bigint PRIMARY KEY, v text)')
    lines = [f'{i},"v, {i}"' for i in range(500)]
    lines[100] = "one hundred,x"  # not a bigint
    lines[200] = "200"  # a missing column
    config = {"table": pg_table, "mode": "upsert", "key_columns": ["k"], "batch_size": 150}
    flow = run_flow(csv_lines_to_pg(tmp_path, lines, config), tmp_path)
    assert flow.failures == []
    assert pg_rows(pg_table, "SELECT count(*), min(v), max(k) FROM {t}") == [(498, "v, 0", 499)]
    dead = [
        orjson.loads(line)
        for line in (tmp_path / "t.db.dead-letter.jsonl").read_bytes().splitlines()
    ]
    assert sorted(d["record"] for d in dead) == ["200", "one hundred,x"]
    assert all("database refused the line" in d["reason"] for d in dead)
    again = [f"{i},new" for i in range(0, 500, 2)] + ["0,newest"]
    spec = csv_lines_to_pg(tmp_path, again, config)
    # Within one writer the later line of a key wins; competing writers commit in any order.
    spec["stages"][1]["threads"] = 1
    assert run_flow(spec, tmp_path).failures == []
    assert pg_rows(pg_table, "SELECT v, count(*) FROM {t} GROUP BY v ORDER BY v LIMIT 2") == [
        ("new", 249),
        ("newest", 1),
    ]


def test_csv_lines_into_sqlite_are_split_in_python(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "out.db"
    spec = csv_lines_to_pg(tmp_path, ["1,a", "2,b", "3"], {"url": f"sqlite:///{db}", "table": "t"})
    flow = run_flow(spec, tmp_path)
    assert flow.failures == [] and flow.summary()["dead_letters"] == {"db": 1}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [("1", "a"), ("2", "b")]


def test_a_lost_postgres_connection_is_retried_and_nothing_is_lost(
    tmp_path: Path, pg_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    import psycopg

    app = f"flowpipe-{pg_table}"
    records = [{"k": i, "v": f"v{i}"} for i in range(3000)]
    spec = jsonl_to_pg(
        tmp_path,
        records,
        {"table": pg_table, "mode": "upsert", "key_columns": ["k"], "batch_size": 100},
    )
    spec["stages"][2]["config"]["url"] = f"{PG_URL}?application_name={app}"
    pace(spec, "q", delay_ms=1)
    flow = Flow(spec, Settings(http_port=None, dead_letter_dir=str(tmp_path)), env={})
    flow.start()
    killed = 0
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        for _ in range(3):  # cut the writers' connections three times while they work
            while pg_count(pg_table) < 500 * (killed + 1) and not flow.done.is_set():
                time.sleep(0.02)
            row = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (app,),
            ).fetchone()
            killed += 1 if row and row[0] else 0
    assert flow.wait(timeout=120)
    assert killed == 3, "the test did not cut any connection"
    assert flow.failures == []
    assert any("temporary error, retry" in r.getMessage() for r in caplog.records)
    assert pg_rows(pg_table, "SELECT count(*), count(DISTINCT k) FROM {t}") == [(3000, 3000)]


def test_redis_start_up_error_names_the_host(tmp_path: Path) -> None:
    spec = source_to_collect(
        {"type": "redis_stream_source", "config": {"url": "redis://127.0.0.1:1/0", "stream": "s"}},
        threads=1,
    )
    flow = run_flow(spec, tmp_path)
    assert flow.failures == flow.startup_failures
    assert "could not start: cannot connect to Redis at redis://127.0.0.1:1/0" in flow.failures[0]


# -- MariaDB -----------------------------------------------------------------------------


def test_mariadb_appends_upserts_and_dead_letters_refused_rows(
    tmp_path: Path, mariadb_table: str
) -> None:
    upsert = {
        "url": MARIADB_URL,
        "table": mariadb_table,
        "mode": "upsert",
        "key_columns": ["k"],
        "batch_size": 100,
    }
    first = [{"k": f"key-{i}", "n": i, "doc": {"i": i}} for i in range(500)]
    assert run_flow(jsonl_to_pg(tmp_path, first, upsert), tmp_path).failures == []
    again = [{"k": f"key-{i}", "n": i * 10, "doc": {"i": i}} for i in range(250, 750)]
    again[3] = {"k": "key-253", "n": "not a number", "doc": {}}
    flow = run_flow(jsonl_to_pg(tmp_path, again, upsert), tmp_path)
    assert flow.failures == [] and flow.summary()["dead_letters"] == {"db": 1}
    table = f"`{mariadb_table}`"
    assert mariadb_rows(f"SELECT count(*), count(DISTINCT k) FROM {table}") == [(750, 750)]
    assert mariadb_rows(f"SELECT n FROM {table} WHERE k IN ('key-10', 'key-260') ORDER BY n") == [
        (10,),
        (2600,),
    ]
    assert mariadb_rows(f"SELECT n FROM {table} WHERE k = 'key-253'") == [(253,)]


def test_mariadb_start_up_error_names_the_host(tmp_path: Path, mariadb_table: str) -> None:
    config = {"url": "mariadb://root@127.0.0.1:1/test", "table": mariadb_table}
    flow = run_flow(jsonl_to_pg(tmp_path, [{"k": 1}], config), tmp_path)
    assert flow.failures == flow.startup_failures
    assert "could not start: cannot connect to MariaDB at 127.0.0.1:1" in flow.failures[0]


def test_mariadb_missing_table_is_a_start_up_error(tmp_path: Path, mariadb_table: str) -> None:
    config = {"url": MARIADB_URL, "table": mariadb_table, "create_table": False}
    flow = run_flow(jsonl_to_pg(tmp_path, [{"k": 1}], config), tmp_path)
    assert flow.failures == flow.startup_failures
    assert (
        f"could not start: table '{mariadb_table}' does not exist in database 'test' on "
        "127.0.0.1:3306; create it, or set create_table: true"
    ) in flow.failures[0]
