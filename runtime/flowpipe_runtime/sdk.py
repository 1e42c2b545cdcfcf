"""The stage SDK: what a source, a transform and a sink implement.

Stages work on batches (lists of records); ``RecordTransform`` offers a per-record
convenience. A stage class is registered under a type name in the ``flowpipe.stages``
entry-point group; one instance is made per worker thread, so instance state needs no lock,
while state shared by a stage's threads lives on ``StageContext.shared``.

Errors: raise :class:`RecordError` for one bad record (it goes to the dead letter, counted);
any other exception stops the flow and makes the process exit non-zero. Connectors retry
temporary errors (a lost connection) themselves, with :func:`retry`, before giving up.

Delivery: a source whose broker wants acknowledgements yields :class:`Delivery` objects
(records plus an ``ack`` callable) instead of plain lists; ``ack`` is called, from another
thread, once every record is committed downstream (delivery.py).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from flowpipe_runtime.delivery import Delivery

__all__ = [
    "Batch",
    "Delivery",
    "RecordError",
    "RecordTransform",
    "Sink",
    "Source",
    "Stage",
    "StageContext",
    "Transform",
    "retry",
]

Kind = Literal["source", "transform", "sink"]
Batch = list[Any]


class RecordError(Exception):
    """One record cannot be processed; it is sent to the dead letter with this reason."""


T = TypeVar("T")
log = logging.getLogger("flowpipe.stage")


def retry(
    action: Callable[[], T],
    temporary: tuple[type[BaseException], ...],
    what: str,
    attempts: int = 8,
    first_delay: float = 0.1,
    max_delay: float = 5.0,
    between: Callable[[], None] | None = None,
) -> T:
    """``action()``, retried with exponential back-off and jitter while it raises one of
    ``temporary``; ``between`` runs before each retry (to reconnect, say). The last error
    is raised after ``attempts`` tries: a flow whose database stays away stops, visibly."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except temporary as exc:
            if attempt == attempts:
                raise
            log.warning(
                f"{what}: temporary error, retry {attempt}/{attempts - 1} in {delay:.2f}s: "
                f"{type(exc).__name__}: {exc}"
            )
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, max_delay)
            if between is not None:
                with contextlib.suppress(*temporary):
                    between()
    raise AssertionError("unreachable")


@dataclass(slots=True)
class StageContext:
    """What a stage instance knows about where it runs."""

    flow: str
    stage: str
    type: str
    config: dict[str, Any]
    thread_index: int
    threads: int
    batch_size: int
    stopping: threading.Event
    """Set when the flow drains (SIGTERM or a failure): sources should return soon."""
    shared: dict[str, Any]
    """One dict per stage, shared by its threads (guard it with ``shared_lock``)."""
    shared_lock: threading.Lock
    queue_schema: dict[str, Any] | None = None
    """The compiled schema of the stage's input queue, when the flow names one."""
    dead_letter: Any = None
    """Callable ``(record, reason)`` that records a rejected record; set by the engine."""
    env: dict[str, str] = field(default_factory=dict)


class Stage:
    """Common base: ``kind`` and ``open``/``close`` hooks."""

    kind: ClassVar[Kind]
    config_schema: ClassVar[dict[str, Any] | None] = None
    """For plugins: the JSON Schema of ``config``. Built-ins take theirs from the catalogue."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def open(self) -> None:
        """Acquire resources (connections, files); errors here stop start-up."""

    def close(self) -> None:
        """Release resources; called once per thread after its last batch."""


class Source(Stage):
    kind = "source"

    def batches(self) -> Iterator[Batch | Delivery]:
        """Yield batches (or deliveries to acknowledge) until exhausted (job) or until
        ``ctx.stopping`` is set. ``close`` is called only after the last acknowledgement."""
        raise NotImplementedError


class Transform(Stage):
    kind = "transform"

    def process(self, batch: Batch) -> Batch:
        """Return the output batch (may be shorter, longer, or the same list).

        Return what the batch became, not records kept from earlier calls: acknowledgements
        travel with the batch, so a record held back across calls would be acknowledged
        before it is written (and lost in a crash)."""
        raise NotImplementedError


class RecordTransform(Transform):
    """Per-record convenience: implement ``process_record``; ``None`` drops the record."""

    def process(self, batch: Batch) -> Batch:
        out = []
        for record in batch:
            try:
                result = self.process_record(record)
            except RecordError as exc:
                self.ctx.dead_letter(record, str(exc))
                continue
            if result is not None:
                out.append(result)
        return out

    def process_record(self, record: Any) -> Any:
        raise NotImplementedError


class Sink(Stage):
    kind = "sink"

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Make everything written so far durable; called before ``close``, and after each
        ``write`` of records a source waits to acknowledge (``write`` then ``flush`` is the
        commit; a sink that commits in ``write`` needs nothing here)."""
