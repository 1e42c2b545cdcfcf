"""The README's example flow, flows/trade-ingest.yaml (SQS -> CSV -> database), as a user
runs it: compiled by `flowpipe spec`, run by `flowpipe-runtime` with the settings it leaves
to the environment (the validator's warnings name them), against moto's SQS and PostgreSQL,
then stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import REPO

from .conftest import PG_URL, free_port
from .test_connectors import pg_count, pg_rows, queue_is_empty, send
from .test_crash import wait_ready

BIN = Path(sys.executable).parent


def test_trade_ingest_runs_as_written(
    tmp_path: Path, sqs_queue: tuple[Any, str], moto_endpoint: str, pg_table: str
) -> None:
    spec = subprocess.run(
        [str(BIN / "flowpipe"), "spec", "--json", "flows/trade-ingest.yaml"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    (tmp_path / "flow.json").write_bytes(spec)
    client, url = sqs_queue
    trades = [f"{i},{'AAPL' if i % 2 else 'MSFT'},{100 + i / 100},{1 + i % 7}" for i in range(400)]
    send(client, url, [*trades, "x,BAD,1.0,1", *trades[:50]])  # a bad line, and 50 resent
    port = free_port()
    env = {
        **os.environ,
        "SQS_QUEUE_URL": url,
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,
        "DATABASE_URL": PG_URL,
        "DB_TABLE": pg_table,
        "FLOWPIPE_DEAD_LETTER_DIR": str(tmp_path),
    }
    with (tmp_path / "runtime.log").open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "flowpipe-runtime"), str(tmp_path / "flow.json"), "--http-port", str(port)],
            env=env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    wait_ready(process, port)
    deadline = time.monotonic() + 90
    while not (pg_count(pg_table) == 400 and queue_is_empty(client, url)):
        assert process.poll() is None, (tmp_path / "runtime.log").read_text()[-2000:]
        assert time.monotonic() < deadline, f"{pg_count(pg_table)} rows"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert pg_rows(
        pg_table, "SELECT count(*), count(DISTINCT trade_id), sum(quantity) FROM {t}"
    ) == [(400, 400, sum(1 + i % 7 for i in range(400)))]
    dead = (tmp_path / "trade-ingest.parser.dead-letter.jsonl").read_text()
    assert "x,BAD,1.0,1" in dead and "field 'trade_id'" in dead
