"""The connectors suite of `make bench`: CSV -> PostgreSQL against `psql \\copy`, and
acknowledged throughput from SQS (moto server), Redis Streams and NATS JetStream.

Needs the services of .ci/services (PostgreSQL on 127.0.0.1:5432, database test, trust
auth; Redis; NATS with JetStream) and starts moto_server itself.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PG = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qAtc"]
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
ROWS = 1_000_000
COLUMNS = ["trade_id", "symbol", "price", "quantity"]


def sql(statement: str) -> str:
    return subprocess.run([*PG, statement], check=True, capture_output=True, text=True).stdout


def write_csv(path: Path) -> None:
    rng = random.Random(1)
    symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA"]
    with path.open("w") as out:
        out.writelines(
            f"{i},{symbols[i % 5]},{100 + rng.random() * 50:.4f},{1 + i % 500}\n"
            for i in range(ROWS)
        )


def flow_yaml(csv: Path, table: str, typed: bool) -> str:
    store = f"""  - name: store
    type: db_writer
    threads: 2
    input_queue: {"rows" if typed else "lines"}
    config:
      url: {PG_URL}
      table: {table}
      batch_size: 100000
"""
    parse = """  - name: parse
    type: csv_parser
    threads: 2
    input_queue: lines
    output_queue: rows
    config:
      header: false
      columns:
        - {name: trade_id, type: int}
        - {name: symbol, type: string}
        - {name: price, type: float}
        - {name: quantity, type: int}
"""
    return (
        f"name: bench-csv-to-pg\nexecution: {{mode: job}}\nenv: {{FLOWPIPE_BATCH_SIZE: '8192'}}\n"
        f"stages:\n  - name: read\n    type: file_source\n    output_queue: lines\n"
        f"    config: {{paths: ['{csv}']}}\n"
        + (parse if typed else "")
        + store
        + ("" if typed else f"      csv_columns: [{', '.join(COLUMNS)}]\n")
        + "queues:\n  - {name: lines, capacity: 65536}\n"
        + ("  - {name: rows, capacity: 65536}\n" if typed else "")
    )


def copy_rows() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "trades.csv"
        write_csv(csv)
        table = f"bench_{uuid.uuid4().hex[:8]}"
        sql(
            f"CREATE TABLE {table} (trade_id bigint, symbol text, price double precision, "
            "quantity bigint)"
        )
        try:
            raw = []
            for _ in range(3):
                sql(f"TRUNCATE {table}")
                start = time.perf_counter()
                sql(f"\\copy {table} FROM '{csv}' CSV")
                raw.append(time.perf_counter() - start)
            results = {}
            for typed in (False, True):
                flow = Path(tmp) / f"flow-{typed}.yaml"
                flow.write_text(flow_yaml(csv, table, typed))
                walls, engine = [], []
                for _ in range(3 if not typed else 1):
                    sql(f"TRUNCATE {table}")
                    start = time.perf_counter()
                    done = subprocess.run(
                        [str(BIN / "flowpipe"), "run", str(flow), "--root", tmp],
                        capture_output=True,
                        text=True,
                        check=True,
                        cwd=tmp,
                    )
                    walls.append(time.perf_counter() - start)
                    engine.append(float(re.findall(r'"seconds":([0-9.]+)', done.stderr)[-1]))
                    assert sql(f"SELECT count(*) FROM {table}").strip() == str(ROWS)
                results[typed] = (statistics.median(engine), statistics.median(walls))
        finally:
            sql(f"DROP TABLE {table}")
    copy = statistics.median(raw)
    rows = [
        f"CSV -> PostgreSQL, {ROWS:,} rows (4 columns), same server, same file; "
        "median of 3. 'load' is the flow's own time (from the runtime's log); 'process'",
        "adds `flowpipe run`'s compile and the runtime's start-up.",
        "",
        "| how | load | rows/s | vs `psql \\copy` | process |",
        "|---|---|---|---|---|",
        f"| `psql \\copy` (raw COPY) | {copy:.2f} s | {ROWS / copy:,.0f} | 100 % | {copy:.2f} s |",
    ]
    for typed, label in (
        (False, "file_source -> db_writer (`csv_columns`: PostgreSQL parses; goal >= 80 %)"),
        (True, "file_source -> csv_parser x2 -> db_writer (typed in Python)"),
    ):
        load, wall = results[typed]
        rows.append(
            f"| {label} | {load:.2f} s | {ROWS / load:,.0f} | **{copy / load * 100:.0f} %** "
            f"| {wall:.2f} s |"
        )
    return rows


def _until(flow: Any, done: Callable[[], bool], timeout: float = 300) -> float:
    start = time.perf_counter()
    flow.start()
    try:
        while not done():
            if flow.failures or time.perf_counter() - start > timeout:
                raise RuntimeError(f"benchmark flow failed: {flow.failures}")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        flow.stop("benchmark done")
        flow.wait(60)


def _flow(source: dict[str, Any], sink: dict[str, Any]) -> Any:
    from flowpipe_runtime.engine import Flow
    from flowpipe_runtime.settings import Settings

    spec = {
        "format_version": 1,
        "name": "bench",
        "execution": {"mode": "EXECUTION_MODE_STREAMING"},
        "stages": [
            {"name": "in", "kind": "source", "threads": 2, "output_queue": "q", **source},
            {"name": "out", "kind": "sink", "threads": 1, "input_queue": "q", **sink},
        ],
        "queues": [{"name": "q", "capacity": 8192, "type": "QUEUE_TYPE_IN_MEMORY"}],
        "labels": {},
        "env": {},
        "secret_env": {},
        "kubernetes": {},
        "kubernetes_options": {},
    }
    return Flow(spec, Settings(http_port=None, batch_size=1024), env={})


def _acked(flow: Any, count: int) -> Callable[[], bool]:
    return lambda: flow.summary().get("acknowledged", {}).get("in", 0) >= count


def broker_rows() -> list[str]:
    rows = [
        "",
        "Acknowledged throughput: records/s from the first receive until every record was "
        "committed by the sink and acknowledged to the broker (2 source threads).",
        "",
        "| source -> sink | records | time | records/s |",
        "|---|---|---|---|",
    ]
    out = Path(tempfile.mkdtemp()) / "out.jsonl"
    devnull = {"type": "file_sink", "config": {"path": str(out)}}
    # Redis Streams
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    stream, count = f"bench-{uuid.uuid4().hex[:8]}", 200_000
    for start in range(0, count, 10_000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, start + 10_000):
            pipe.xadd(stream, {"id": i, "symbol": "AAPL"})
        pipe.execute()
    flow = _flow({"type": "redis_stream_source", "config": {"stream": stream}}, devnull)
    seconds = _until(flow, _acked(flow, count))
    client.delete(stream)
    rows.append(
        f"| Redis Streams -> file_sink | {count:,} | {seconds:.2f} s | {count / seconds:,.0f} |"
    )
    # NATS JetStream
    import nats

    name, count = f"BENCH{uuid.uuid4().hex[:8]}", 200_000

    async def fill() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        for start in range(0, count, 2000):
            await asyncio.gather(
                *(js.publish(f"{name}.in", b"%d,AAPL" % i) for i in range(start, start + 2000))
            )
        await nc.close()

    async def drop() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        await nc.jetstream().delete_stream(name)
        await nc.close()

    async def baseline() -> float:
        """The client alone: fetch 1,024 at a time and ack, on one event loop."""
        from nats.js.api import AckPolicy, ConsumerConfig

        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        config = ConsumerConfig(
            durable_name="baseline", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=65536
        )
        sub = await js.pull_subscribe(f"{name}.in", durable="baseline", stream=name, config=config)
        start, received = time.perf_counter(), 0
        while received < count:
            messages = await sub.fetch(batch=1024, timeout=1.0)
            for message in messages:
                await message.ack()
            await nc.flush()
            received += len(messages)
        seconds = time.perf_counter() - start
        await nc.close()
        return seconds

    asyncio.run(fill())
    plain = asyncio.run(baseline())
    rows.append(
        f"| NATS JetStream, nats-py alone (fetch + ack, no flow) | {count:,} | {plain:.2f} s | "
        f"{count / plain:,.0f} |"
    )
    config = {"stream": name, "subject": f"{name}.in"}
    flow = _flow({"type": "nats_source", "config": config}, devnull)
    seconds = _until(flow, _acked(flow, count))
    asyncio.run(drop())
    rows.append(
        f"| NATS JetStream -> file_sink | {count:,} | {seconds:.2f} s | {count / seconds:,.0f} |"
    )
    out.unlink(missing_ok=True)
    out.parent.rmdir()
    # SQS (moto server) -> PostgreSQL
    rows.append(sqs_row())
    return rows


def sqs_row() -> str:
    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    table = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        url = client.create_queue(QueueName="bench")["QueueUrl"]
        calls = []
        for _ in range(20):
            start = time.perf_counter()
            client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            calls.append(time.perf_counter() - start)
        latency = statistics.median(calls) * 1000
        count = 1000  # moto's queue slows down with every message it holds
        for start in range(0, count, 10):
            client.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": f"{start + i},AAPL"} for i in range(10)],
            )
        store = {
            "type": "db_writer",
            "config": {"url": PG_URL, "table": table, "csv_columns": ["id", "symbol"]},
        }
        source = {
            "type": "sqs_listener",
            "config": {"queue_url": url, "endpoint_url": endpoint, "wait_time_seconds": 1},
        }
        flow = _flow(source, store)
        seconds = _until(flow, _acked(flow, count))
    finally:
        server.terminate()
        sql(f"DROP TABLE IF EXISTS {table}")
    return (
        f"| SQS (moto server) -> db_writer PostgreSQL | {count:,} | {seconds:.2f} s | "
        f"{count / seconds:,.0f} (bound by moto: {latency:.0f} ms a request here, and "
        "slower as a queue grows) |"
    )


def connectors_suite() -> list[str]:
    return copy_rows() + broker_rows()


if __name__ == "__main__":
    print("\n".join(connectors_suite()))
