"""The engine: worker threads per stage, joined by bounded batch queues.

Lifecycle
- Start: every worker thread opens its stage instance; the flow is ready once all have.
- Job mode: sources end -> each queue closes when its last producer is done -> consumers
  drain it -> sinks flush -> every thread has ended -> exit 0.
- Drain (SIGTERM/SIGINT, or :meth:`Flow.stop`): sources stop at their next batch boundary,
  everything downstream drains and flushes. Not ready from the first moment of draining.
- Failure: a stage that raises stops the flow. Sources stop; the queues upstream of the
  failed stage are aborted (nothing can consume them any more, so producers must not wait
  on them); everything downstream drains what it has; the run ends non-zero with the
  stage, the record position and the error logged.
- Acknowledgements (delivery.py): a source's deliveries are acknowledged once everything
  downstream committed them; a source is closed only after every stage downstream ended and
  its acknowledger ran the acks released, so a drain acknowledges what it committed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpipe_runtime import registry
from flowpipe_runtime.deadletter import DeadLetter
from flowpipe_runtime.delivery import Acknowledger, Delivery, release
from flowpipe_runtime.queues import Aborted, BatchQueue
from flowpipe_runtime.sdk import Sink, Source, Stage, StageContext, Transform
from flowpipe_runtime.settings import Settings

log = logging.getLogger("flowpipe.engine")


@dataclass(eq=False)
class StageRun:
    spec: dict[str, Any]
    impl: registry.StageType
    input: BatchQueue | None
    output: BatchQueue | None
    dead_letter: DeadLetter
    counts: list[int] = field(default_factory=list)
    """Records taken in (sources: produced), one slot per thread: no lock on the hot path."""
    errors: int = 0
    acker: Acknowledger | None = None
    """Sources only: runs the acks of the deliveries committed downstream."""

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def processed(self) -> int:
        return sum(self.counts)


class Flow:
    def __init__(self, spec: dict[str, Any], settings: Settings, env: dict[str, str]) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.settings = settings
        self.env = env
        self.stopping = threading.Event()
        self.stopping_since: float | None = None
        self.done = threading.Event()
        self.failures: list[str] = []
        self.startup_failures: list[str] = []
        """Failures of a stage's ``open`` (a wrong host, bad credentials, a missing table)."""
        self._lock = threading.Lock()
        self._running = 0
        self._downstream = 0
        self.downstream_done = threading.Event()
        """Set once every transform and sink thread has ended: no ack can be released later."""
        self._opened = 0
        self._threads: list[threading.Thread] = []
        self.queues = {
            q["name"]: BatchQueue(q["name"], q["capacity"], min(settings.batch_size, q["capacity"]))
            for q in spec["queues"]
        }
        self.stages = [self._stage(s) for s in spec["stages"]]

    def _stage(self, spec: dict[str, Any]) -> StageRun:
        impl = registry.resolve(spec)
        config = spec.get("config", {})
        path = config.get("dead_letter") or str(
            Path(self.settings.dead_letter_dir) / f"{self.name}.{spec['name']}.dead-letter.jsonl"
        )
        return StageRun(
            spec=spec,
            impl=impl,
            input=self.queues.get(spec.get("input_queue", "")),
            output=self.queues.get(spec.get("output_queue", "")),
            dead_letter=DeadLetter(Path(path), self.name, spec["name"]),
            counts=[0] * spec["threads"],
        )

    @property
    def ready(self) -> bool:
        return self._opened == len(self._threads) and not self.stopping.is_set()

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        for stage in self.stages:
            if stage.output is not None:
                for _ in range(stage.spec["threads"]):
                    stage.output.add_producer()
        for stage in self.stages:
            shared: dict[str, Any] = {}
            shared_lock = threading.Lock()
            for index in range(stage.spec["threads"]):
                ctx = StageContext(
                    flow=self.name,
                    stage=stage.name,
                    type=stage.spec["type"],
                    config=stage.spec.get("config", {}),
                    thread_index=index,
                    threads=stage.spec["threads"],
                    batch_size=self._batch_size(stage),
                    stopping=self.stopping,
                    shared=shared,
                    shared_lock=shared_lock,
                    queue_schema=self._input_schema(stage),
                    dead_letter=stage.dead_letter,
                    env=self.env,
                )
                thread = threading.Thread(
                    target=self._work, args=(stage, index, ctx), name=f"{stage.name}-{index}"
                )
                self._threads.append(thread)
        self._running = len(self._threads)
        self._downstream = sum(
            s.spec["threads"] for s in self.stages if s.impl.cls.kind != "source"
        )
        for stage in self.stages:
            if stage.impl.cls.kind == "source":
                stage.acker = Acknowledger(stage.name)
        for thread in self._threads:
            thread.start()

    def _batch_size(self, stage: StageRun) -> int:
        queue = stage.output or stage.input
        return queue.batch_size if queue is not None else self.settings.batch_size

    def _input_schema(self, stage: StageRun) -> dict[str, Any] | None:
        for queue in self.spec["queues"]:
            if queue["name"] == stage.spec.get("input_queue"):
                schema: dict[str, Any] | None = queue.get("schema")
                return schema
        return None

    def stop(self, reason: str = "stop requested") -> None:
        """Drain: sources stop at their next batch; the rest finishes what is queued."""
        if not self.stopping.is_set():
            log.info("draining", extra={"flow": self.name, "reason": reason})
            self.stopping_since = time.monotonic()
            self.stopping.set()

    def abort(self) -> None:
        """Give up on draining: wake every blocked thread so the process can exit."""
        self.stopping.set()
        for queue in self.queues.values():
            queue.abort()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every worker to end; False when ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        for thread in self._threads:
            thread.join()
        return True

    def summary(self) -> dict[str, Any]:
        return {
            "stages": {s.name: s.processed for s in self.stages},
            "dead_letters": {
                s.name: s.dead_letter.count for s in self.stages if s.dead_letter.count
            },
            "failures": list(self.failures),
            "acknowledged": {
                s.name: s.acker.acked for s in self.stages if s.acker and s.acker.acked
            },
        }

    # -- workers -------------------------------------------------------------------------

    def _work(self, stage: StageRun, index: int, ctx: StageContext) -> None:
        instance: Stage | None = None
        try:
            self._schedule(stage)
            instance = stage.impl.cls(ctx)
            try:
                instance.open()
            except Exception as exc:
                instance = None  # never opened: nothing to close
                self._fail(stage, index, exc, starting=True)
                return
            with self._lock:
                self._opened += 1
            if isinstance(instance, Source):
                self._run_source(stage, index, instance)
            elif isinstance(instance, Transform):
                self._run_transform(stage, index, instance)
            elif isinstance(instance, Sink):
                self._run_sink(stage, index, instance)
        except Aborted:
            pass
        except Exception as exc:
            self._fail(stage, index, exc)
        finally:
            self._finish(stage, instance)

    def _schedule(self, stage: StageRun) -> None:
        """Apply the flow's CPU pinning and real-time priority to this worker thread (Linux).

        Both are hints: without the CPUs or the SYS_NICE capability the thread runs anyway,
        and a warning says why.
        """
        pinning = self.spec.get("kubernetes", {}).get("cpu_pinning", {}).get(stage.name)
        priority = stage.spec.get("realtime_priority")
        try:
            if pinning:
                os.sched_setaffinity(0, pinning["cpu"])  # 0: the calling thread
            if priority:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        except (OSError, AttributeError) as exc:
            log.warning(
                f"stage '{stage.name}': scheduling hint not applied: {exc}",
                extra={"flow": self.name, "stage": stage.name},
            )

    def _run_source(self, stage: StageRun, index: int, source: Source) -> None:
        out = stage.output
        assert out is not None
        counts = stage.counts
        stopping = self.stopping
        acker = stage.acker
        assert acker is not None
        for batch in source.batches():
            if isinstance(batch, Delivery):
                token = acker.token(batch)
                if batch.records:
                    out.put(batch.records, (token,))
                    counts[index] += len(batch.records)
                else:
                    token.release()
            elif batch:
                out.put(batch)
                counts[index] += len(batch)
            if stopping.is_set():
                break

    def _run_transform(self, stage: StageRun, index: int, transform: Transform) -> None:
        inp, out = stage.input, stage.output
        assert inp is not None and out is not None
        counts = stage.counts
        process = transform.process
        while (taken := inp.take()) is not None:
            batch, tokens = taken
            result = process(batch)
            counts[index] += len(batch)
            if result:
                out.put(result, tokens)
            elif tokens:
                release(tokens)  # every record dropped or dead-lettered: nothing to wait for

    def _run_sink(self, stage: StageRun, index: int, sink: Sink) -> None:
        inp = stage.input
        assert inp is not None
        counts = stage.counts
        write = sink.write
        while (taken := inp.take()) is not None:
            batch, tokens = taken
            write(batch)
            counts[index] += len(batch)
            if tokens:
                sink.flush()  # committed before acknowledged
                release(tokens)
        sink.flush()

    def _finish(self, stage: StageRun, instance: Stage | None) -> None:
        if stage.output is not None:
            stage.output.producer_done()
        if stage.acker is not None:
            # Acks go through the source's connection: keep it open until the last one.
            self.downstream_done.wait()
            stage.acker.stop()
        if instance is not None:
            try:
                instance.close()
            except Exception as exc:
                self._fail(stage, -1, exc)
        with self._lock:
            self._running -= 1
            last = self._running == 0
            if stage.acker is None:
                self._downstream -= 1
                if self._downstream == 0:
                    self.downstream_done.set()
        if last:
            for s in self.stages:
                s.dead_letter.close()
            self.done.set()

    def _fail(
        self, stage: StageRun, index: int, exc: BaseException, starting: bool = False
    ) -> None:
        position = stage.processed + 1
        message = (
            f"stage '{stage.name}' ({stage.spec['type']}) could not start: {exc}"
            if starting
            else f"stage '{stage.name}' ({stage.spec['type']}) failed at or after record "
            f"#{position} of its input: {type(exc).__name__}: {exc}"
        )
        with self._lock:
            stage.errors += 1
            self.failures.append(message)
            if starting:
                self.startup_failures.append(message)
        # Stop and unblock first: nothing below may keep the flow from ending.
        self.stop(f"stage '{stage.name}' failed")
        for queue in self._upstream(stage):
            queue.abort()
        log.error(
            message,
            exc_info=None if starting else exc,
            extra={"flow": self.name, "stage": stage.name, "worker": index, "record": position},
        )

    def _upstream(self, failed: StageRun) -> list[BatchQueue]:
        """Queues that feed ``failed``, directly or through other stages."""
        found: list[BatchQueue] = []
        pending = [failed]
        while pending:
            stage = pending.pop()
            queue = stage.input
            if queue is None or queue in found:
                continue
            found.append(queue)
            pending.extend(s for s in self.stages if s.output is queue)
        return found
