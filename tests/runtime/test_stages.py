"""Built-in stages through real runs: CSV parsing, dead letters, SQLite, `flowpipe run`."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson

from . import teststages
from .conftest import make_spec, run_flow

REPO = Path(__file__).resolve().parents[2]


def csv_flow(tmp_path: Path, parser: dict, threads: int = 1) -> dict:
    return make_spec(
        [
            {
                "name": "read",
                "type": "file_source",
                "output_queue": "lines",
                "config": {"paths": [str(tmp_path / "*.csv")]},
            },
            {
                "name": "parse",
                "type": "csv_parser",
                "threads": threads,
                "input_queue": "lines",
                "output_queue": "rows",
                "config": parser,
            },
            {"name": "out", "type": "collect", "input_queue": "rows", "config": {"key": "rows"}},
        ],
        [{"name": "lines", "capacity": 8}, {"name": "rows", "capacity": 8}],
    )


def test_csv_header_lines_name_columns_and_repeat_headers_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,x\n2,y\n")
    (tmp_path / "b.csv").write_text("id,name\n3,z\n")
    flow = run_flow(csv_flow(tmp_path, {"header": True}), tmp_path)
    assert sorted(teststages.COLLECTED["rows"], key=lambda r: r["id"]) == [
        {"id": "1", "name": "x"},
        {"id": "2", "name": "y"},
        {"id": "3", "name": "z"},
    ]
    assert flow.failures == []


def test_csv_types_and_bad_lines_go_to_the_dead_letter(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        '1,"a, quoted",2.5,yes\nx,b,1,no\n2,c,3\n3,"unterminated,1,no\n4,d,,0\n'
    )
    columns = [
        {"name": "id", "type": "int"},
        {"name": "s"},
        {"name": "f", "type": "float"},
        {"name": "b", "type": "bool"},
    ]
    flow = run_flow(csv_flow(tmp_path, {"header": False, "columns": columns}), tmp_path)
    assert teststages.COLLECTED["rows"] == [
        {"id": 1, "s": "a, quoted", "f": 2.5, "b": True},
        {"id": 4, "s": "d", "f": None, "b": False},
    ]
    rejected = [
        orjson.loads(line)
        for line in (tmp_path / "t.parse.dead-letter.jsonl").read_bytes().splitlines()
    ]
    assert [r["record"] for r in rejected] == ["x,b,1,no", "2,c,3", '3,"unterminated,1,no']
    assert "field 'id'" in rejected[0]["reason"]
    assert rejected[1]["reason"] == "expected 4 fields, got 3"
    assert all(r["stage"] == "parse" and r["flow"] == "t" for r in rejected)
    assert flow.summary()["dead_letters"] == {"parse": 3}


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def json_to_db(tmp_path: Path, config: dict) -> dict:
    return make_spec(
        [
            {
                "name": "read",
                "type": "file_source",
                "output_queue": "lines",
                "config": {"paths": [str(tmp_path / "*.jsonl")]},
            },
            {"name": "parse", "type": "json_parser", "input_queue": "lines", "output_queue": "q"},
            {"name": "db", "type": "db_writer", "threads": 2, "input_queue": "q", "config": config},
        ],
        [{"name": "lines", "capacity": 10}, {"name": "q", "capacity": 10}],
    )


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT k, v FROM t ORDER BY k").fetchall()


def test_db_writer_appends_and_upserts_idempotently(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"k": i, "v": f"v{i}"} for i in range(100)])
    db = tmp_path / "out.db"
    upsert = {
        "url": f"sqlite:///{db}",
        "table": "t",
        "mode": "upsert",
        "key_columns": ["k"],
        "batch_size": 7,
    }
    for _ in range(2):  # a redelivery must not duplicate rows
        assert run_flow(json_to_db(tmp_path, upsert), tmp_path).failures == []
    assert rows(db) == [(i, f"v{i}") for i in range(100)]
    append = {**upsert, "mode": "append", "table": "t"}
    append.pop("key_columns")
    db.unlink()
    for _ in range(2):
        run_flow(json_to_db(tmp_path, append), tmp_path)
    assert len(rows(db)) == 200


def test_db_writer_without_a_url_fails_naming_what_to_set(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"k": 1}])
    flow = run_flow(json_to_db(tmp_path, {"table": "t"}), tmp_path)
    assert any("set config.url or the DATABASE_URL variable" in f for f in flow.failures)


def test_flowpipe_run_compiles_and_runs_the_demo_flow(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    (tmp_path / ".git").mkdir()
    flowpipe = str(Path(sys.executable).parent / "flowpipe")
    for _ in range(2):
        done = subprocess.run(
            [flowpipe, "run", "flows/csv-to-sqlite.yaml"],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "out" / "trades.db") as conn:
        count, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT trade_id) FROM trades"
        ).fetchone()
    data_lines = sum(
        len(p.read_text().splitlines()) - 1 for p in (tmp_path / "examples" / "data").glob("*.csv")
    )
    rejected = (tmp_path / "out" / "csv-to-sqlite.rejected.jsonl").read_text().splitlines()
    assert count == distinct == data_lines - len(rejected) // 2  # upsert: the rerun adds no rows
    assert len(rejected) == 4  # 2 bad lines, rejected on each of the two runs


def test_flowpipe_run_passes_on_the_runtime_exit_code(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "f.yaml").write_text(
        "name: f\nexecution: {mode: job}\nstages:\n"
        "  - {name: s, type: noop_source, output_queue: q, config: {max_messages: 3}}\n"
        "  - {name: d, type: db_writer, input_queue: q, config: {table: t}}\n"
        "queues: [{name: q}]\n"
    )
    flowpipe = str(Path(sys.executable).parent / "flowpipe")
    done = subprocess.run(
        [flowpipe, "run", "f.yaml"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, "a stage that cannot open is a start-up error"
    assert b"stage 'd' (db_writer) could not start: no database" in done.stderr
    assert b"DATABASE_URL" in done.stderr


def test_schema_validator_checks_records_against_the_embedded_schema(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"id": 1}, {"id": "two"}, {"id": 3, "extra": True}])
    body = {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "additionalProperties": False,
    }
    spec = make_spec(
        [
            {
                "name": "read",
                "type": "file_source",
                "output_queue": "lines",
                "config": {"paths": [str(tmp_path / "*.jsonl")]},
            },
            {"name": "parse", "type": "json_parser", "input_queue": "lines", "output_queue": "q"},
            {"name": "check", "type": "schema_validator", "input_queue": "q", "output_queue": "ok"},
            {"name": "out", "type": "collect", "input_queue": "ok", "config": {"key": "ok"}},
        ],
        [
            {"name": "lines"},
            {"name": "ok"},
            {
                "name": "q",
                "schema": {"schema_id": "s", "version": 1, "registry_format": "JSON", "body": body},
            },
        ],
    )
    flow = run_flow(spec, tmp_path)
    assert teststages.COLLECTED["ok"] == [{"id": 1}]
    assert flow.summary()["dead_letters"] == {"check": 2}
    rejected = (tmp_path / "t.check.dead-letter.jsonl").read_text()
    assert "is not of type" in rejected and "Additional properties" in rejected
