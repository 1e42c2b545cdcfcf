"""Crash tests: the runtime process killed with SIGKILL at random points, restarted each time;
then every source record must be in PostgreSQL (0 lost) and, with upsert, once (0
duplicates). And SIGTERM: 0 lost, 0 duplicates even in append mode, exit 0 within the grace
period. Sources: SQS (moto server) -> csv_parser -> PostgreSQL, and NATS JetStream ->
csv_parser -> PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import NATS_URL, PG_URL, free_port, make_spec
from .test_connectors import pg_count, pg_rows, queue_is_empty, send

pytestmark = pytest.mark.slow

RUNTIME = str(Path(sys.executable).parent / "flowpipe-runtime")
GRACE = 10.0


def spec_for(source: dict[str, Any], table: str, mode: str) -> dict[str, Any]:
    store: dict[str, Any] = {"url": PG_URL, "table": table, "mode": mode}
    if mode == "upsert":
        store["key_columns"] = ["id"]
    return make_spec(
        [
            {"name": "receive", "threads": 2, "output_queue": "lines", **source},
            {
                "name": "parse",
                "type": "csv_parser",
                "threads": 2,
                "input_queue": "lines",
                "output_queue": "rows",
                "config": {
                    "header": False,
                    "columns": [{"name": "id", "type": "int"}, {"name": "text"}],
                },
            },
            {
                # 1 ms a record on 2 threads: a run's work spans several random kills
                "name": "pace",
                "type": "noop_transform",
                "threads": 2,
                "input_queue": "rows",
                "output_queue": "paced",
                "config": {"delay_ms": 1},
            },
            {
                "name": "store",
                "type": "db_writer",
                "threads": 2,
                "input_queue": "paced",
                "config": store,
            },
        ],
        [
            {"name": "lines", "capacity": 256},
            {"name": "rows", "capacity": 256},
            {"name": "paced", "capacity": 256},
        ],
        mode="EXECUTION_MODE_STREAMING",
    )


def redelivery(mode: str) -> int:
    """Seconds before the broker hands out again what was not acknowledged: short where a
    killed runtime's messages must come back soon (upsert absorbs the duplicates), long
    where no message may come twice (append after SIGTERM drains)."""
    return 3 if mode == "upsert" else 60


class Source:
    """A source with N records in it, and how to tell it is drained."""

    count = 6000

    def spec(self, table: str, mode: str) -> dict[str, Any]:
        raise NotImplementedError

    def drained(self) -> bool:
        raise NotImplementedError


class Sqs(Source):
    count = 1000  # moto's SQS slows down with every message a queue holds

    def __init__(self, client: Any, url: str, endpoint: str) -> None:
        self.client, self.url, self.endpoint = client, url, endpoint
        send(client, url, [f"{i},record {i}" for i in range(self.count)])

    def spec(self, table: str, mode: str) -> dict[str, Any]:
        config = {
            "queue_url": self.url,
            "endpoint_url": self.endpoint,
            "wait_time_seconds": 1,
            "visibility_timeout": redelivery(mode),
        }
        # moto answers two concurrent receives with the same message now and then; real SQS
        # does not. Where duplicates must be 0 (append), one receiving thread avoids that.
        source = {"type": "sqs_listener", "config": config, "threads": 2 if mode == "upsert" else 1}
        return spec_for(source, table, mode)

    def drained(self) -> bool:
        return queue_is_empty(self.client, self.url)


class Nats(Source):
    def __init__(self, stream: str) -> None:
        self.stream = stream

        async def fill(js: Any) -> None:
            await js.add_stream(name=stream, subjects=[f"{stream}.>"])
            for start in range(0, self.count, 500):
                await asyncio.gather(
                    *(
                        js.publish(f"{stream}.in", f"{i},record {i}".encode())
                        for i in range(start, min(start + 500, self.count))
                    )
                )

        jetstream(fill)

    def spec(self, table: str, mode: str) -> dict[str, Any]:
        config = {
            "url": NATS_URL,
            "stream": self.stream,
            "subject": f"{self.stream}.in",
            "durable": "crash",
            "ack_wait_seconds": redelivery(mode),
        }
        return spec_for({"type": "nats_source", "config": config}, table, mode)

    def drained(self) -> bool:
        from nats.js.errors import NotFoundError

        try:
            info = jetstream(lambda js: js.consumer_info(self.stream, "crash"))
        except NotFoundError:
            return False
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)


def jetstream(action: Callable[[Any], Any]) -> Any:
    import nats

    async def run() -> Any:
        nc = await nats.connect(NATS_URL)
        try:
            return await action(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(run())


@pytest.fixture(params=["sqs", "nats"])
def source(request: pytest.FixtureRequest) -> Iterator[Source]:
    if request.param == "sqs":
        client, url = request.getfixturevalue("sqs_queue")
        yield Sqs(client, url, request.getfixturevalue("moto_endpoint"))
    else:
        stream = f"CRASH{uuid.uuid4().hex[:8]}"
        yield Nats(stream)
        jetstream(lambda js: js.delete_stream(stream))


def start(spec_path: Path, tmp_path: Path, port: int | None = None) -> subprocess.Popen[bytes]:
    with (tmp_path / "runtime.log").open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                RUNTIME,
                str(spec_path),
                "--http-port",
                str(port) if port else "off",
                "--grace-period",
                str(GRACE),
            ],
            cwd=tmp_path,
            env={
                **os.environ,
                "FLOWPIPE_LOG_LEVEL": "WARNING",
                "FLOWPIPE_DEAD_LETTER_DIR": str(tmp_path),
            },
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    """Until /readyz says ready: a SIGTERM before the runtime's handlers exist just kills it."""
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None and time.monotonic() < deadline
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)


def finish(spec_path: Path, tmp_path: Path, source: Source, table: str) -> None:
    """Run once more until everything is in and acknowledged, then SIGTERM."""
    port = free_port()
    process = start(spec_path, tmp_path, port)
    wait_ready(process, port)
    deadline = time.monotonic() + 120
    while not (pg_distinct(table) == source.count and source.drained()):
        assert process.poll() is None, (tmp_path / "runtime.log").read_text()[-3000:]
        assert time.monotonic() < deadline, f"{pg_distinct(table)} of {source.count} arrived"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(GRACE + 5) == 0


def pg_distinct(table: str) -> int:
    if not pg_count(table):
        return 0
    return int(pg_rows(table, "SELECT count(DISTINCT id) FROM {t}")[0][0])


def test_kill_9_twenty_times_loses_nothing_and_upsert_duplicates_nothing(
    tmp_path: Path, source: Source, pg_table: str
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    spec_path = tmp_path / "flow.json"
    spec_path.write_bytes(orjson.dumps(source.spec(pg_table, "upsert")))
    progress = []
    for _ in range(20):
        process = start(spec_path, tmp_path)
        time.sleep(rng.uniform(0.4, 1.6))  # start-up included: some kills land before work
        process.send_signal(signal.SIGKILL)
        process.wait()
        progress.append(pg_count(pg_table))
    assert progress[0] < source.count, f"killed too late to test anything (seed {seed})"
    finish(spec_path, tmp_path, source, pg_table)
    total, distinct, low, high = pg_rows(
        pg_table, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM {t}"
    )[0]
    assert (distinct, low, high) == (source.count, 0, source.count - 1), f"lost (seed {seed})"
    assert total == distinct, f"duplicates (seed {seed})"


def test_sigterm_drains_commits_and_acknowledges_everything_in_flight(
    tmp_path: Path, source: Source, pg_table: str
) -> None:
    rng = random.Random()
    spec_path = tmp_path / "flow.json"
    spec_path.write_bytes(orjson.dumps(source.spec(pg_table, "append")))
    for _ in range(5):
        port = free_port()
        process = start(spec_path, tmp_path, port)
        wait_ready(process, port)
        time.sleep(rng.uniform(0.1, 1.0))
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(GRACE + 5) == 0, (tmp_path / "runtime.log").read_text()[-3000:]
        assert time.monotonic() - started < GRACE
    finish(spec_path, tmp_path, source, pg_table)
    total, distinct = pg_rows(pg_table, "SELECT count(*), count(DISTINCT id) FROM {t}")[0]
    assert distinct == source.count, "lost"
    assert total == distinct, "append mode and still no duplicate: every drain acknowledged"
