"""file_source and file_sink."""

from __future__ import annotations

import csv
import glob
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from flowpipe_runtime.sdk import Batch, Sink, Source

log = logging.getLogger("flowpipe.stage")


def matched_files(patterns: list[str]) -> list[str]:
    found: set[str] = set()
    for pattern in patterns:
        # glob.glob, not Path.glob: patterns may be absolute (/data/in/*.csv)
        found.update(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())  # noqa: PTH207
    return sorted(found)


def my_share(files: list[str], env: dict[str, str]) -> list[str]:
    """In a Kubernetes Indexed Job, the files of this pod: every completions-th, from its index.

    Kubernetes sets JOB_COMPLETION_INDEX; the compiler sets FLOWPIPE_JOB_COMPLETIONS.
    """
    index = env.get("JOB_COMPLETION_INDEX")
    if index is None:
        return files
    completions = int(env.get("FLOWPIPE_JOB_COMPLETIONS", "1"))
    return files[int(index) :: max(1, completions)]


class FileSource(Source):
    """Reads the files its globs match, in sorted order, as lines or whole files."""

    def open(self) -> None:
        config = self.ctx.config
        patterns = config["paths"]
        everything = matched_files(patterns)
        if not everything and self.ctx.thread_index == 0:
            log.warning("no files match", extra={"stage": self.ctx.stage, "paths": patterns})
        mine = my_share(everything, self.ctx.env)
        self.files = mine[self.ctx.thread_index :: self.ctx.threads]

    def batches(self) -> Iterator[Batch]:
        config = self.ctx.config
        encoding = config.get("encoding", "utf-8")
        whole = config.get("mode", "lines") == "files"
        skip = config.get("skip_header_lines", 0)
        size = self.ctx.batch_size
        for path in self.files:
            if self.ctx.stopping.is_set():
                return
            with Path(path).open(encoding=encoding, newline="") as handle:
                if whole:
                    yield [handle.read()]
                    continue
                for _ in range(skip):
                    handle.readline()
                while lines := handle.readlines(1 << 16):
                    batch = [line.rstrip("\r\n") for line in lines]
                    for start in range(0, len(batch), size):
                        yield batch[start : start + size]


class FileSink(Sink):
    """Appends records to one file (shared by the stage's threads) as JSON lines or CSV."""

    def open(self) -> None:
        config = self.ctx.config
        self.csv = config.get("format", "jsonl") == "csv"
        with self.ctx.shared_lock:
            shared = self.ctx.shared
            if "file" not in shared:
                path = Path(config["path"])
                path.parent.mkdir(parents=True, exist_ok=True)
                shared["file"] = path.open("ab")
                shared["header"] = path.stat().st_size > 0
                shared["users"] = 0
            shared["users"] += 1

    def write(self, batch: Batch) -> None:
        if self.csv:
            data = self._csv(batch)
        else:
            data = b"".join(orjson.dumps(r, default=str) + b"\n" for r in batch)
        with self.ctx.shared_lock:
            if self.csv and not self.ctx.shared["header"] and batch:
                self.ctx.shared["file"].write(self._header(batch[0]))
                self.ctx.shared["header"] = True
            self.ctx.shared["file"].write(data)

    def _header(self, record: Any) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(list(record) if isinstance(record, dict) else [])
        return buffer.getvalue().encode()

    def _csv(self, batch: Batch) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for record in batch:
            writer.writerow(record.values() if isinstance(record, dict) else record)
        return buffer.getvalue().encode()

    def flush(self) -> None:
        with self.ctx.shared_lock:
            self.ctx.shared["file"].flush()
            os.fsync(self.ctx.shared["file"].fileno())

    def close(self) -> None:
        with self.ctx.shared_lock:
            shared = self.ctx.shared
            shared["users"] -= 1
            if shared["users"] == 0:
                shared.pop("file").close()
