"""db_writer: batched inserts (or upserts) into a database table.

- SQLite, the embedded default (``sqlite:///relative.db``, ``sqlite:////absolute.db``): a
  connection per thread, WAL journal, one ``BEGIN IMMEDIATE`` transaction per chunk.
- PostgreSQL (``postgresql://user@host:port/db``) through psycopg 3: ``COPY`` for appends;
  in upsert mode ``COPY`` into a session temporary table, then ``INSERT ... SELECT ... ON
  CONFLICT (key_columns) DO UPDATE`` (the last record of a key in a batch wins). Secrets
  stay out of the URL: libpq reads ``PGPASSWORD`` (and ``PGUSER``, ``PGSSLMODE``...) from
  the environment, which Kubernetes fills from a Secret.

- MariaDB / MySQL (``mariadb://user@host:port/db`` or ``mysql://``) through PyMySQL:
  multi-row ``INSERT`` (PyMySQL folds ``executemany`` into one statement), upsert with
  ``ON DUPLICATE KEY UPDATE``; the password comes from ``MYSQL_PWD``.

CSV pass-through (``csv_columns``): text records are CSV lines for those columns, and
PostgreSQL parses them itself in ``COPY ... (FORMAT csv)``, so a bulk load runs at the
database's own COPY speed (docs/benchmarks.md) instead of converting every field in Python.
A chunk PostgreSQL refuses is loaded again line by line, each in a savepoint, and only the
refused lines go to the dead letter, with PostgreSQL's reason. Upserts keep the last line of
a key. SQLite has no COPY: there the lines are split with Python's csv module.

Both commit ``batch_size`` rows per transaction, gathered across batches, and everything
waiting when the engine calls ``flush``: after each batch an acknowledging source waits for,
so its records are durable before it is told. The table is created from the
first record's fields when missing (``create_table``); upsert mode needs a unique index on
``key_columns`` (created with the table). A record with a field the table lacks, or that the
database refuses (a wrong type, a constraint), goes to the dead letter with the database's
reason; the rest of its batch is written. A lost connection is retried with back-off on a
new connection, the whole chunk again (its transaction never committed).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import decimal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from flowpipe_runtime.sdk import Batch, Sink, StageContext, retry

_SQLITE_TYPES = {bool: "INTEGER", int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB"}
_PG_TYPES = {
    bool: "boolean",
    int: "bigint",
    float: "double precision",
    str: "text",
    bytes: "bytea",
    dict: "jsonb",
    list: "jsonb",
    decimal.Decimal: "numeric",
    datetime.datetime: "timestamptz",
    datetime.date: "date",
}

_MARIADB_TYPES = {
    bool: "BOOLEAN",
    int: "BIGINT",
    float: "DOUBLE",
    str: "LONGTEXT",
    bytes: "LONGBLOB",
    dict: "JSON",
    list: "JSON",
    decimal.Decimal: "DECIMAL(38, 10)",
    datetime.datetime: "DATETIME(6)",
    datetime.date: "DATE",
}


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
        mode = config.get("mode", "append")
        keys: list[str] = config.get("key_columns", [])
        if mode == "upsert" and not keys:
            raise RuntimeError("mode 'upsert' needs key_columns")
        scheme = url.split(":", 1)[0]
        backend: type[_Sqlite | _Postgres | _MariaDb]
        if url.startswith("sqlite:///"):
            backend = _Sqlite
        elif scheme in ("postgresql", "postgres"):
            backend = _Postgres
        elif scheme in ("mariadb", "mysql"):
            backend = _MariaDb
        else:
            raise RuntimeError(
                f"database URL scheme '{scheme}' is not supported; use sqlite:///, "
                "postgresql:// or mariadb://"
            )
        self.db = backend(self.ctx, url, table, mode, keys, config.get("create_table", True))
        self.chunk = config.get("batch_size", 1000)
        self.csv_columns: list[str] | None = config.get("csv_columns")
        self.records: list[dict[str, Any]] = []
        self.lines: list[str] = []
        if self.csv_columns and self.db.columns is None and isinstance(self.db, _Postgres):
            self.db.prepare(dict.fromkeys(self.csv_columns, ""))  # a new table: text columns

    def write(self, batch: Batch) -> None:
        """Buffer ``batch``; commit once ``batch_size`` rows are waiting. ``flush`` commits
        the rest: the engine calls it after each batch a source waits to acknowledge, and
        at the end, so buffering only ever spans batches nobody is waiting for."""
        dead_letter = self.ctx.dead_letter
        records, lines = self.records, self.lines
        csv_columns = self.csv_columns
        for record in batch:
            if csv_columns and isinstance(record, str):
                lines.append(record)
                continue
            if not isinstance(record, dict):
                dead_letter(
                    record, f"db_writer needs records with fields, got {type(record).__name__}"
                )
                continue
            if self.db.columns is None:
                self.db.prepare(record)
            extra = record.keys() - self.db.column_set
            if extra:
                dead_letter(record, f"table '{self.db.table}' has no column {sorted(extra)}")
                continue
            records.append(record)
        if len(records) + len(lines) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        records, lines = self.records, self.lines
        self.records, self.lines = [], []
        if lines:
            assert self.csv_columns is not None
            if isinstance(self.db, _Postgres):
                for start in range(0, len(lines), self.chunk):
                    self.db.write_lines(self.csv_columns, lines[start : start + self.chunk])
            else:
                records += self._split(self.csv_columns, lines)
        for start in range(0, len(records), self.chunk):
            self.db.write(records[start : start + self.chunk])

    def _split(self, columns: list[str], lines: list[str]) -> list[dict[str, Any]]:
        out = []
        for line, fields in zip(lines, csv.reader(lines), strict=True):
            if len(fields) != len(columns):
                self.ctx.dead_letter(line, f"expected {len(columns)} fields, got {len(fields)}")
            else:
                out.append(dict(zip(columns, fields, strict=True)))
        if out and self.db.columns is None:
            self.db.prepare(out[0])
        return out

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()


class _Backend:
    def __init__(
        self, ctx: StageContext, table: str, mode: str, keys: list[str], create: bool
    ) -> None:
        self.ctx = ctx
        self.table = table
        self.mode = mode
        self.keys = keys
        self.create = create
        self.columns: list[str] | None = None
        self.column_set: frozenset[str] = frozenset()

    def _adopt(self, existing: list[str], where: str) -> None:
        """Use the table's ``existing`` columns; none means no table, which start-up accepts
        only when the first record may create it."""
        if existing:
            self._use(existing)
        elif not self.create:
            raise RuntimeError(
                f"table '{self.table}' does not exist in {where}; create it, or set "
                "create_table: true"
            )

    def _use(self, columns: list[str]) -> None:
        missing = [k for k in self.keys if k not in columns]
        if missing:
            raise RuntimeError(f"table '{self.table}' has no key column {missing}")
        self.columns = columns
        self.column_set = frozenset(columns)

    def _rows(self, records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        columns = self.columns
        assert columns is not None
        if self.mode == "upsert":  # the last record of a key wins, as a replay would have it
            records = list({tuple(r.get(k) for k in self.keys): r for r in records}.values())
        return [tuple(r.get(c) for c in columns) for r in records]


class _Sqlite(_Backend):
    def __init__(
        self, ctx: StageContext, url: str, table: str, mode: str, keys: list[str], create: bool
    ) -> None:
        super().__init__(ctx, table, mode, keys, create)
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        with ctx.shared_lock:  # switching the journal mode needs the database alone
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.sql = ""

    def prepare(self, first: dict[str, Any]) -> None:
        with self.ctx.shared_lock:  # one thread creates the table
            existing = [
                row[1] for row in self.db.execute(f"PRAGMA table_info({_quote(self.table)})")
            ]
            if not existing:
                if not self.create:
                    raise RuntimeError(f"table '{self.table}' does not exist")
                columns = ", ".join(
                    f"{_quote(k)} {_SQLITE_TYPES.get(type(v), '')}".rstrip()
                    for k, v in first.items()
                )
                self.db.execute(f"CREATE TABLE IF NOT EXISTS {_quote(self.table)} ({columns})")
                existing = list(first)
            if self.mode == "upsert":
                keys = ", ".join(map(_quote, self.keys))
                self.db.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {_quote(self.table + '_flowpipe_key')} "
                    f"ON {_quote(self.table)} ({keys})"
                )
        self._use(existing)
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

    def write(self, records: list[dict[str, Any]]) -> None:
        rows = self._rows(records)
        # IMMEDIATE takes the write lock now, waiting (timeout) for other writers; a
        # deferred transaction that upgrades later may fail with "database is locked".
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(self.sql, rows)
        except (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError):
            self.db.execute("ROLLBACK")
            self._isolate(records)
            return
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _isolate(self, records: list[dict[str, Any]]) -> None:
        """Row by row: the refused ones to the dead letter, the others committed."""
        columns = self.columns
        assert columns is not None
        self.db.execute("BEGIN IMMEDIATE")
        for record in records:
            try:
                self.db.execute(self.sql, tuple(record.get(c) for c in columns))
            except (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError) as exc:
                self.ctx.dead_letter(record, f"database refused the row: {exc}")
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class _Postgres(_Backend):
    def __init__(
        self, ctx: StageContext, url: str, table: str, mode: str, keys: list[str], create: bool
    ) -> None:
        import psycopg

        super().__init__(ctx, table, mode, keys, create)
        self.psycopg = psycopg
        self.url = url
        self.conn = self._connect()
        schema, _, name = table.rpartition(".")
        self.schema, self.name = schema or None, name
        try:
            self._adopt(self._existing(), self._where())
        except BaseException:
            self.conn.close()  # a stage that fails to open is not closed by the engine
            raise
        self.temporary = _quote(f"flowpipe_stage_{ctx.thread_index}")

    def _where(self) -> str:
        info = self.conn.info
        return f"database '{info.dbname}' on {info.host}:{info.port}"

    def _open(self) -> Any:
        return self.psycopg.connect(self.url, autocommit=False, connect_timeout=10)

    def _connect(self) -> Any:
        try:
            return self._open()
        except self.psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            host = self.url.split("@")[-1].split("/")[0]
            raise RuntimeError(f"cannot connect to PostgreSQL at {host}: {reason}") from None

    def _existing(self) -> list[str]:
        """The table's columns (none: no table); notes which ones hold JSON."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum",
                (self._qualified(),),
            )
            found = cur.fetchall()
        self.conn.commit()
        self.json_columns = [i for i, (_, kind) in enumerate(found) if kind in ("json", "jsonb")]
        return [name for name, _ in found]

    def _qualified(self) -> str:
        return (f"{_quote(self.schema)}." if self.schema else "") + _quote(self.name)

    def prepare(self, first: dict[str, Any]) -> None:
        if self.columns is not None:
            return
        lock = 0x666C6F77  # "flow": an advisory lock so one writer creates the table
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            columns = ", ".join(
                f"{_quote(k)} {_PG_TYPES.get(type(v), 'text')}" for k, v in first.items()
            )
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self._qualified()} ({columns})")
            if self.mode == "upsert":
                keys = ", ".join(map(_quote, self.keys))
                index = _quote(f"{self.name}_flowpipe_key")
                cur.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {self._qualified()} ({keys})"
                )
        self.conn.commit()
        self._use(self._existing())

    def write(self, records: list[dict[str, Any]]) -> None:
        self._commit(lambda: self._copy(self._rows(records)), lambda: self._isolate(records))

    def write_lines(self, columns: list[str], lines: list[str]) -> None:
        """CSV lines for ``columns``, parsed by PostgreSQL's COPY."""
        names = ", ".join(map(_quote, columns))
        text = "\n".join(lines) + "\n"

        def copy() -> None:
            with self.conn.cursor() as cur:
                self._copy_csv(cur, names, columns, text)
            self.conn.commit()

        self._commit(copy, lambda: self._isolate_lines(names, columns, lines))

    def _commit(self, work: Callable[[], None], isolate: Callable[[], None]) -> None:
        """``work`` (which commits); if the database refuses the chunk, ``isolate`` it row by
        row instead; a lost connection retries the lot on a new one."""
        psycopg = self.psycopg

        def attempt() -> None:
            try:
                work()
            except (psycopg.DataError, psycopg.IntegrityError):
                self.conn.rollback()
                isolate()

        retry(
            attempt,
            (psycopg.OperationalError, psycopg.InterfaceError),
            f"stage '{self.ctx.stage}': PostgreSQL",
            between=self._reconnect,
        )

    def _staging(self, cur: Any) -> str:
        """This thread's temporary table for upserts, emptied by every commit."""
        cur.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.temporary} "
            f"(LIKE {self._qualified()}) ON COMMIT DELETE ROWS"
        )
        return self.temporary

    def _copy_csv(self, cur: Any, names: str, columns: list[str], text: str) -> None:
        if self.mode != "upsert":
            with cur.copy(f"COPY {self._qualified()} ({names}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(text)
            return
        with cur.copy(f"COPY {self._staging(cur)} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(text)
        keys = ", ".join(map(_quote, self.keys))
        # The last line of a key wins: a temporary table keeps COPY's order in ctid.
        latest = (
            f"SELECT DISTINCT ON ({keys}) {names} FROM {self.temporary} ORDER BY {keys}, ctid DESC"
        )
        cur.execute(self._statement(latest, columns))

    def _isolate_lines(self, names: str, columns: list[str], lines: list[str]) -> None:
        psycopg = self.psycopg
        with self.conn.cursor() as cur:
            for line in lines:
                try:
                    with self.conn.transaction():
                        self._copy_csv(cur, names, columns, line + "\n")
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    reason = str(exc).strip().splitlines()[0]
                    self.ctx.dead_letter(line, f"database refused the line: {reason}")
        self.conn.commit()

    def _reconnect(self) -> None:
        try:
            self.conn.close()
        finally:
            self.conn = self._open()

    def _statement(self, source: str, columns: list[str] | None = None) -> str:
        columns = columns or self.columns
        assert columns is not None
        names = ", ".join(map(_quote, columns))
        sql = f"INSERT INTO {self._qualified()} ({names}) {source}"
        if self.mode == "upsert":
            conflict = ", ".join(map(_quote, self.keys))
            updates = ", ".join(
                f"{_quote(c)} = EXCLUDED.{_quote(c)}" for c in columns if c not in self.keys
            )
            sql += f" ON CONFLICT ({conflict}) DO " + (
                f"UPDATE SET {updates}" if updates else "NOTHING"
            )
        return sql

    def _copy(self, rows: list[tuple[Any, ...]]) -> None:
        columns = self.columns
        assert columns is not None
        names = ", ".join(map(_quote, columns))
        if self.json_columns:
            rows = [self._adapt_row(row) for row in rows]
        with self.conn.cursor() as cur:
            target = self._staging(cur) if self.mode == "upsert" else self._qualified()
            with cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
            if self.mode == "upsert":
                cur.execute(self._statement(f"SELECT {names} FROM {self.temporary}"))
        self.conn.commit()

    def _adapt_row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        from psycopg.types.json import Jsonb

        values = list(row)
        for i in self.json_columns:
            if values[i] is not None:
                values[i] = Jsonb(values[i])
        return tuple(values)

    def _isolate(self, records: list[dict[str, Any]]) -> None:
        """Row by row, each in a savepoint: refused rows to the dead letter."""
        columns = self.columns
        assert columns is not None
        psycopg = self.psycopg
        marks = ", ".join(["%s"] * len(columns))
        sql = self._statement(f"VALUES ({marks})")
        with self.conn.cursor() as cur:
            for record in records:
                try:
                    with self.conn.transaction():
                        row = tuple(record.get(c) for c in columns)
                        cur.execute(sql, self._adapt_row(row) if self.json_columns else row)
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    reason = str(exc).strip().splitlines()[0]
                    self.ctx.dead_letter(record, f"database refused the row: {reason}")
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class _MariaDb(_Backend):
    def __init__(
        self, ctx: StageContext, url: str, table: str, mode: str, keys: list[str], create: bool
    ) -> None:
        import urllib.parse

        import pymysql

        super().__init__(ctx, table, mode, keys, create)
        self.pymysql = pymysql
        parts = urllib.parse.urlsplit(url)
        self.options = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": urllib.parse.unquote(parts.username or "root"),
            "password": ctx.env.get("MYSQL_PWD", ""),
            "database": parts.path.lstrip("/") or None,
            "charset": "utf8mb4",
            "autocommit": False,
            "connect_timeout": 10,
        }
        try:
            self.conn = pymysql.connect(**self.options)
        except pymysql.err.MySQLError as exc:
            where = f"{self.options['host']}:{self.options['port']}"
            raise RuntimeError(f"cannot connect to MariaDB at {where}: {exc.args[-1]}") from None
        try:
            where = f"database '{self.options['database']}' on {self.options['host']}:"
            self._adopt(self._existing(), where + str(self.options["port"]))
        except BaseException:
            self.conn.close()  # a stage that fails to open is not closed by the engine
            raise

    def _existing(self) -> list[str]:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (self.table,),
            )
            found = cur.fetchall()
        self.conn.commit()
        return [name for name, _ in found]  # JSON columns take JSON text (_value)

    def prepare(self, first: dict[str, Any]) -> None:
        if self.columns is not None:
            return

        def kind(name: str, value: Any) -> str:
            if name in self.keys and isinstance(value, str):
                return "VARCHAR(255)"  # a key is indexed, and TEXT cannot be without a length
            return _MARIADB_TYPES.get(type(value), "LONGTEXT")

        columns = ", ".join(f"{_bquote(k)} {kind(k, v)}" for k, v in first.items())
        with self.conn.cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {_bquote(self.table)} ({columns})")
            if self.mode == "upsert":
                keys = ", ".join(map(_bquote, self.keys))
                cur.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {_bquote(self.table + '_flowpipe_key')} "
                    f"ON {_bquote(self.table)} ({keys})"
                )
        self.conn.commit()
        self._use(self._existing())

    def _sql(self) -> str:
        columns = self.columns
        assert columns is not None
        names = ", ".join(map(_bquote, columns))
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {_bquote(self.table)} ({names}) VALUES ({marks})"
        if self.mode == "upsert":
            updates = ", ".join(
                f"{_bquote(c)} = VALUES({_bquote(c)})" for c in columns if c not in self.keys
            ) or ", ".join(f"{_bquote(k)} = {_bquote(k)}" for k in self.keys)
            sql += f" ON DUPLICATE KEY UPDATE {updates}"
        return sql

    @staticmethod
    def _value(value: Any) -> Any:
        return orjson.dumps(value).decode() if isinstance(value, dict | list) else value

    def write(self, records: list[dict[str, Any]]) -> None:
        pymysql = self.pymysql
        rows = [tuple(self._value(v) for v in row) for row in self._rows(records)]
        sql = self._sql()

        def attempt() -> None:
            with self.conn.cursor() as cur:
                try:
                    cur.executemany(sql, rows)
                except (pymysql.err.DataError, pymysql.err.IntegrityError):
                    self.conn.rollback()
                    self._isolate(cur, sql, records)
            self.conn.commit()

        retry(
            attempt,
            (pymysql.err.OperationalError, pymysql.err.InterfaceError),
            f"stage '{self.ctx.stage}': MariaDB",
            between=self._reconnect,
        )

    def _isolate(self, cur: Any, sql: str, records: list[dict[str, Any]]) -> None:
        """Row by row: a refused statement is rolled back alone, the others stay."""
        columns = self.columns
        assert columns is not None
        for record in records:
            try:
                cur.execute(sql, tuple(self._value(record.get(c)) for c in columns))
            except (self.pymysql.err.DataError, self.pymysql.err.IntegrityError) as exc:
                self.ctx.dead_letter(record, f"database refused the row: {exc.args[-1]}")

    def _reconnect(self) -> None:
        with contextlib.suppress(self.pymysql.err.Error):
            self.conn.close()
        self.conn = self.pymysql.connect(**self.options)

    def close(self) -> None:
        self.conn.close()


def _bquote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
