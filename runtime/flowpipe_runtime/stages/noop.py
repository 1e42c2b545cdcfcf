"""The original's example stages: noop_source, noop_transform, stdout_sink."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson

from flowpipe_runtime.sdk import Batch, Sink, Source, Transform

log = logging.getLogger("flowpipe.stage")


def share(total: int, index: int, parts: int) -> int:
    """Thread ``index``'s share of ``total`` items split over ``parts`` threads."""
    return total // parts + (1 if index < total % parts else 0)


class NoopSource(Source):
    """Emits ``message`` ``max_messages`` times (0: without end), split over its threads."""

    def batches(self) -> Iterator[Batch]:
        config = self.ctx.config
        message: str = config.get("message", "hello")
        delay = config.get("delay_ms", 0) / 1000
        limit = config.get("max_messages", 0)
        remaining = share(limit, self.ctx.thread_index, self.ctx.threads) if limit else -1
        size = 1 if delay else self.ctx.batch_size
        stopping = self.ctx.stopping
        full = [message] * size
        while remaining and not stopping.is_set():
            n = size if remaining < 0 else min(size, remaining)
            yield full if n == size else [message] * n
            if remaining > 0:
                remaining -= n
            if delay and stopping.wait(delay):
                return


class NoopTransform(Transform):
    """Passes records through; ``delay_ms`` per record, ``verbose`` logs each one."""

    def process(self, batch: Batch) -> Batch:
        config = self.ctx.config
        delay = config.get("delay_ms", 0)
        if delay:
            time.sleep(delay / 1000 * len(batch))
        if config.get("verbose"):
            for record in batch:
                log.info("record", extra={"stage": self.ctx.stage, "record": record})
        return batch


def _line(record: Any, as_json: bool) -> str:
    if not as_json and isinstance(record, str):
        return record
    if not as_json and isinstance(record, bytes):
        return record.decode("utf-8", "replace")
    return orjson.dumps(record, default=str).decode()


class StdoutSink(Sink):
    """One record per line on stdout. A batch is written whole under the stage's lock, so
    several threads never interleave parts of records."""

    def open(self) -> None:
        self.out = sys.stdout.buffer
        self.as_json = self.ctx.config.get("format", "text") == "json"

    def write(self, batch: Batch) -> None:
        if self.as_json:
            text = "\n".join(_line(r, True) for r in batch)
        else:
            try:
                text = "\n".join(batch)
            except TypeError:
                text = "\n".join(_line(r, False) for r in batch)
        data = (text + "\n").encode()
        with self.ctx.shared_lock:
            self.out.write(data)

    def flush(self) -> None:
        with self.ctx.shared_lock:
            self.out.flush()
