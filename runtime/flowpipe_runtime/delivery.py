"""At-least-once delivery: a source's batch is acknowledged only once every record of it
has been committed by a sink, sent to a dead letter, or dropped by a transform.

Accounting is per batch, not per record. A source yields a :class:`Delivery` (records and an
``ack`` callable). The engine wraps it in one :class:`Ack` token that travels with the
records: a transform's output batch carries its input's tokens (so dropping, splitting or
merging records keeps the count right), a queue that splits a batch retains the token once
per extra piece, and a sink releases the tokens of a batch after ``write`` returned (the
batch is committed). A batch a transform reduces to nothing releases its tokens at once
(dead letters are flushed to the OS as they are written). When a token's count reaches zero
its ``ack`` runs on the source's acknowledger thread, never on the sink's hot path.

A crash, a failed stage or an aborted drain leaves tokens unreleased: those deliveries are
not acknowledged, and the broker delivers them again (at-least-once; an upserting sink makes
the redelivery harmless).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("flowpipe.delivery")


@dataclass(slots=True)
class Delivery:
    """What an acknowledging source yields: the records, and how to acknowledge them."""

    records: list[Any]
    ack: Callable[[], None]


class Ack:
    """A reference count on one delivery; the last release hands ``ack`` to the acknowledger."""

    __slots__ = ("_ack", "_acker", "_lock", "_pending", "size")

    def __init__(self, acker: Acknowledger, ack: Callable[[], None], size: int) -> None:
        self._acker = acker
        self._ack = ack
        self._lock = threading.Lock()
        self._pending = 1
        self.size = size

    def retain(self, n: int = 1) -> None:
        if n:
            with self._lock:
                self._pending += n

    def release(self) -> None:
        with self._lock:
            self._pending -= 1
            done = self._pending == 0
        if done:
            self._acker.submit(self)

    def run(self) -> None:
        self._ack()


def release(tokens: tuple[Any, ...]) -> None:
    for token in tokens:
        token.release()


class Acknowledger:
    """One thread per acknowledging source stage that runs the acks, in release order.

    An ack that fails (the broker is unreachable) is logged and counted, not retried: the
    delivery comes again, which at-least-once allows.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.acked = 0
        """Records acknowledged (the deliveries' sizes)."""
        self.failed = 0
        self._queue: queue.SimpleQueue[Ack | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"{stage}-ack", daemon=True)
        self._thread.start()

    def token(self, delivery: Delivery) -> Ack:
        return Ack(self, delivery.ack, len(delivery.records))

    def submit(self, token: Ack) -> None:
        self._queue.put(token)

    def _run(self) -> None:
        while (token := self._queue.get()) is not None:
            try:
                token.run()
                self.acked += token.size
            except Exception as exc:
                self.failed += 1
                log.warning(
                    f"stage '{self.stage}': acknowledgement failed, the records will be "
                    f"delivered again: {type(exc).__name__}: {exc}",
                    extra={"stage": self.stage},
                )

    def stop(self) -> None:
        """Run the acks released so far, then end (call once nothing can release more)."""
        self._queue.put(None)
        self._thread.join()
