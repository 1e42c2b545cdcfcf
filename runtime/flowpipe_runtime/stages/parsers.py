"""csv_parser, json_parser and schema_validator: bad records go to the dead letter."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

import orjson

from flowpipe_runtime.sdk import Batch, RecordError, RecordTransform, Transform

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _to_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    if lowered == "":
        return None
    raise ValueError(f"{text!r} is not a boolean")


def _number(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        return kind(text) if text.strip() else None

    return convert


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "int": _number(int),
    "float": _number(float),
    "bool": _to_bool,
}


class CsvParser(Transform):
    """Parses CSV lines into dict records.

    ``columns`` names and types the fields. With ``header: true`` the input holds header
    lines: the first one the stage sees names the columns (when ``columns`` is absent) and
    every line equal to it is skipped (each file repeats its header). Without either, fields
    are named ``column_1``, ``column_2``, ...
    """

    def open(self) -> None:
        config = self.ctx.config
        self.header = config.get("header", True)
        self.options = {
            "delimiter": config.get("delimiter", ","),
            "quotechar": config.get("quotechar", '"'),
            "strict": True,
        }
        columns = config.get("columns")
        self.names = [c["name"] for c in columns] if columns else None
        self.converters = (
            [CONVERTERS[c.get("type", "string")] for c in columns] if columns else None
        )

    def _header_line(self, first: str) -> str:
        with self.ctx.shared_lock:
            return str(self.ctx.shared.setdefault("header_line", first))

    def process(self, batch: Batch) -> Batch:
        if not batch:
            return batch
        if self.header:
            header = self._header_line(batch[0])
            if self.names is None:
                self.names = next(csv.reader([header], **self.options))
            batch = [line for line in batch if line != header]
        rows: list[list[str] | None]
        try:
            rows = list(csv.reader(batch, **self.options))
        except csv.Error:
            rows = []
        if len(rows) != len(batch):  # a bad line upset the batch reader: go line by line
            rows = [self._row(line) for line in batch]
        out = []
        dead_letter = self.ctx.dead_letter
        for line, row in zip(batch, rows, strict=True):
            try:
                if row is None:
                    raise RecordError("not one well-formed CSV record")
                out.append(self._record(row))
            except RecordError as exc:
                dead_letter(line, str(exc))
        return out

    def _row(self, line: str) -> list[str] | None:
        try:
            rows = list(csv.reader([line], **self.options))
        except csv.Error:
            return None
        return rows[0] if len(rows) == 1 else None

    def _record(self, row: list[str]) -> dict[str, Any]:
        names = self.names
        if names is None:
            names = self.names = [f"column_{i + 1}" for i in range(len(row))]
        if len(row) != len(names):
            raise RecordError(f"expected {len(names)} fields, got {len(row)}")
        if self.converters is None:
            return dict(zip(names, row, strict=True))
        values = []
        for name, convert, text in zip(names, self.converters, row, strict=True):
            try:
                values.append(convert(text))
            except ValueError as exc:
                raise RecordError(f"field '{name}': {exc}") from None
        return dict(zip(names, values, strict=True))


class JsonParser(RecordTransform):
    """Parses each record (text or bytes) as one JSON value."""

    def process_record(self, record: Any) -> Any:
        try:
            return orjson.loads(record)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"invalid JSON: {exc}") from None


class SchemaValidator(RecordTransform):
    """Checks records against the input queue's schema as embedded by the compiler."""

    def open(self) -> None:
        schema = self.ctx.queue_schema or {}
        body = schema.get("body")
        if body is None:
            raise RuntimeError(
                "the input queue has no schema body in the compiled spec; "
                "give the queue a registry schema (schemas/<id>/) and compile again"
            )
        if schema.get("registry_format", "JSON") != "JSON":
            raise RuntimeError(
                f"schema_validator checks JSON Schema; the input queue's schema "
                f"'{schema.get('schema_id')}' is {schema['registry_format']}"
            )
        import jsonschema_rs

        self.validator = jsonschema_rs.validator_for(body)

    def process_record(self, record: Any) -> Any:
        errors = [e.message for e in self.validator.iter_errors(record)]
        if errors:
            raise RecordError("; ".join(errors[:5]))
        return record

    def process(self, batch: Batch) -> Batch:
        if all(self.validator.is_valid(r) for r in batch):
            return batch
        return super().process(batch)
