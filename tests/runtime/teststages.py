"""Stage types used only by the tests, registered through a patched entry-point table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from flowpipe_runtime.sdk import Batch, Delivery, Sink, Source, Transform

COLLECTED: dict[str, list[Any]] = {}
_LOCK = threading.Lock()


class CountingSource(Source):
    """Emits the integers [0, count) split over its threads: thread i emits i, i+n, ..."""

    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"count": {"type": "integer"}, "batch": {"type": "integer"}},
    }

    def batches(self) -> Iterator[Batch]:
        count = self.ctx.config["count"]
        size = self.ctx.config.get("batch", 97)
        numbers = range(self.ctx.thread_index, count, self.ctx.threads)
        for start in range(0, len(numbers), size):
            yield list(numbers[start : start + size])


class AckingSource(Source):
    """Like CountingSource, as deliveries: acknowledged record lists go to COLLECTED["acked"]."""

    def batches(self) -> Iterator[Batch | Delivery]:
        count = self.ctx.config["count"]
        size = self.ctx.config.get("batch", 97)
        numbers = range(self.ctx.thread_index, count, self.ctx.threads)
        for start in range(0, len(numbers), size):
            records = list(numbers[start : start + size])
            yield Delivery(records, lambda records=records: _ack(records))
            if self.ctx.stopping.is_set():
                return

    def close(self) -> None:
        with _LOCK:
            COLLECTED.setdefault("closed_after_acks", []).append(len(COLLECTED.get("acked", [])))


def _ack(records: list[int]) -> None:
    with _LOCK:
        COLLECTED.setdefault("acked", []).extend(records)


class Reshape(Transform):
    """Drops multiples of config.drop and doubles multiples of config.split."""

    def process(self, batch: Batch) -> Batch:
        drop, split = self.ctx.config.get("drop", 0), self.ctx.config.get("split", 0)
        out = []
        for n in batch:
            if drop and n % drop == 0:
                continue
            out.extend([n, n] if split and n % split == 0 else [n])
        return out


class FailAt(Transform):
    """Raises when it sees the record equal to config.at."""

    def process(self, batch: Batch) -> Batch:
        if self.ctx.config["at"] in batch:
            raise ValueError(f"record {self.ctx.config['at']} is poison")
        return batch


class Collect(Sink):
    """Appends every record to COLLECTED[config.key]."""

    def write(self, batch: Batch) -> None:
        with _LOCK:
            COLLECTED.setdefault(self.ctx.config["key"], []).extend(batch)


class Affinity(Sink):
    """Records the CPUs its worker thread may run on."""

    def open(self) -> None:
        import os

        with _LOCK:
            COLLECTED.setdefault("cpus", []).append(sorted(os.sched_getaffinity(0)))

    def write(self, batch: Batch) -> None:
        pass


class FailingOpen(Sink):
    def open(self) -> None:
        raise ConnectionError("database is down")

    def write(self, batch: Batch) -> None:  # pragma: no cover - never opened
        pass


ENTRY_POINTS = {
    "counting_source": "CountingSource",
    "acking_source": "AckingSource",
    "reshape": "Reshape",
    "fail_at": "FailAt",
    "collect": "Collect",
    "failing_open": "FailingOpen",
    "affinity": "Affinity",
}
