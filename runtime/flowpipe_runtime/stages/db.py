"""db_writer: batched inserts (or upserts) into a database table.

SQLite is the embedded default (``sqlite:///relative.db``, ``sqlite:////absolute.db``): a
connection per thread, WAL journal, one ``BEGIN IMMEDIATE`` transaction per batch. The table
is created from the first batch's fields when missing (``create_table``); upsert mode adds a
unique index on ``key_columns`` and writes ``INSERT ... ON CONFLICT DO UPDATE``, so
redelivered records do not duplicate rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from flowpipe_runtime.sdk import Batch, Sink

_SQL_TYPES = {bool: "INTEGER", int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DbWriter(Sink):
    def open(self) -> None:
        config, env = self.ctx.config, self.ctx.env
        url = config.get("url") or env.get("DATABASE_URL")
        table = config.get("table") or env.get("DB_TABLE")
        if not url:
            raise RuntimeError("no database: set config.url or the DATABASE_URL variable")
        if not table:
            raise RuntimeError("no table: set config.table or the DB_TABLE variable")
        if not url.startswith("sqlite:///"):
            scheme = url.split(":", 1)[0]
            raise RuntimeError(f"database URL scheme '{scheme}' is not supported; use sqlite:///")
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table = table
        self.mode = config.get("mode", "append")
        self.keys: list[str] = config.get("key_columns", [])
        if self.mode == "upsert" and not self.keys:
            raise RuntimeError("mode 'upsert' needs key_columns")
        self.chunk = config.get("batch_size", 1000)
        self.create = config.get("create_table", True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        with self.ctx.shared_lock:  # switching the journal mode needs the database alone
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.columns: list[str] | None = None
        self.sql = ""

    def _prepare(self, first: dict[str, Any]) -> None:
        with self.ctx.shared_lock:  # one thread creates the table
            existing = [
                row[1] for row in self.db.execute(f"PRAGMA table_info({_quote(self.table)})")
            ]
            if not existing:
                if not self.create:
                    raise RuntimeError(f"table '{self.table}' does not exist")
                columns = ", ".join(
                    f"{_quote(k)} {_SQL_TYPES.get(type(v), '')}".rstrip() for k, v in first.items()
                )
                self.db.execute(f"CREATE TABLE IF NOT EXISTS {_quote(self.table)} ({columns})")
                existing = list(first)
            if self.mode == "upsert":
                keys = ", ".join(map(_quote, self.keys))
                self.db.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {_quote(self.table + '_flowpipe_key')} "
                    f"ON {_quote(self.table)} ({keys})"
                )
        self.columns = existing
        names = ", ".join(map(_quote, existing))
        marks = ", ".join("?" * len(existing))
        self.sql = f"INSERT INTO {_quote(self.table)} ({names}) VALUES ({marks})"
        if self.mode == "upsert":
            updates = ", ".join(
                f"{_quote(c)} = excluded.{_quote(c)}" for c in existing if c not in self.keys
            )
            conflict = ", ".join(map(_quote, self.keys))
            self.sql += f" ON CONFLICT ({conflict}) DO " + (
                f"UPDATE SET {updates}" if updates else "NOTHING"
            )

    def write(self, batch: Batch) -> None:
        rows = []
        dead_letter = self.ctx.dead_letter
        for record in batch:
            if not isinstance(record, dict):
                dead_letter(
                    record, f"db_writer needs records with fields, got {type(record).__name__}"
                )
                continue
            if self.columns is None:
                self._prepare(record)
            columns = self.columns
            assert columns is not None
            extra = record.keys() - set(columns)
            if extra:
                dead_letter(record, f"table '{self.table}' has no column {sorted(extra)}")
                continue
            rows.append(tuple(record.get(c) for c in columns))
        for start in range(0, len(rows), self.chunk):
            # IMMEDIATE takes the write lock now, waiting (timeout) for other writers; a
            # deferred transaction that upgrades later may fail with "database is locked".
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(self.sql, rows[start : start + self.chunk])
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
