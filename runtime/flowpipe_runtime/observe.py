"""Health, readiness and Prometheus metrics on one port; JSON logs on stderr.

Metrics are read from plain counters the engine keeps anyway (queue stats, per-stage
counts) when Prometheus scrapes, so the hot path pays nothing for them. Names follow the
original's OpenTelemetry names in Prometheus spelling; counters carry the ``_total`` suffix
that Prometheus (and OpenTelemetry's Prometheus exporter) give them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import orjson

from flowpipe_runtime.queues import DWELL_BUCKETS_NS

if TYPE_CHECKING:
    from flowpipe_runtime.engine import Flow


class JsonFormatter(logging.Formatter):
    _SKIP = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._SKIP})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class FlowCollector:
    """A prometheus_client collector reading one running flow's counters."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        name = self.flow.name
        enq = CounterMetricFamily(
            "flowpipe_queue_enqueue_count", "Records put into a queue.", labels=["flow", "queue"]
        )
        deq = CounterMetricFamily(
            "flowpipe_queue_dequeue_count", "Records taken from a queue.", labels=["flow", "queue"]
        )
        depth = GaugeMetricFamily(
            "flowpipe_queue_depth", "Records buffered in a queue.", labels=["flow", "queue"]
        )
        cap = GaugeMetricFamily(
            "flowpipe_queue_capacity", "Capacity of a queue in records.", labels=["flow", "queue"]
        )
        dwell = HistogramMetricFamily(
            "flowpipe_queue_dwell_ns",
            "Time records wait in a queue, in nanoseconds.",
            labels=["flow", "queue"],
        )
        for queue in self.flow.queues.values():
            stats, labels = queue.stats, [name, queue.name]
            enq.add_metric(labels, stats.enqueued)
            deq.add_metric(labels, stats.dequeued)
            depth.add_metric(labels, queue.depth)
            cap.add_metric(labels, queue.capacity)
            buckets, running = [], 0
            for bound, count in zip(DWELL_BUCKETS_NS, stats.dwell_buckets, strict=True):
                running += count
                buckets.append((str(bound), running))
            buckets.append(("+Inf", stats.dequeued))
            dwell.add_metric(labels, buckets, stats.dwell_ns_sum)
        processed = CounterMetricFamily(
            "flowpipe_stage_process_count",
            "Records a stage has taken in (sources: produced).",
            labels=["flow", "stage"],
        )
        errors = CounterMetricFamily(
            "flowpipe_stage_error_count", "Failures of a stage.", labels=["flow", "stage"]
        )
        dead = CounterMetricFamily(
            "flowpipe_stage_dead_letter_count",
            "Records a stage sent to its dead letter.",
            labels=["flow", "stage"],
        )
        acked = CounterMetricFamily(
            "flowpipe_source_ack_count",
            "Records a source acknowledged to its broker after every sink committed them.",
            labels=["flow", "stage"],
        )
        ack_failures = CounterMetricFamily(
            "flowpipe_source_ack_failure_count",
            "Acknowledgements the broker did not take (those records come again).",
            labels=["flow", "stage"],
        )
        for stage in self.flow.stages:
            labels = [name, stage.name]
            processed.add_metric(labels, stage.processed)
            errors.add_metric(labels, stage.errors)
            dead.add_metric(labels, stage.dead_letter.count)
            if stage.acker is not None:
                acked.add_metric(labels, stage.acker.acked)
                ack_failures.add_metric(labels, stage.acker.failed)
        yield from (enq, deq, depth, cap, dwell, processed, errors, dead, acked, ack_failures)


class HealthServer:
    """/healthz (alive), /readyz (503 while starting or draining) and /metrics."""

    def __init__(self, host: str, port: int, flow: Flow, ready: Callable[[], bool]) -> None:
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry()
        registry.register(FlowCollector(flow))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, b"ok\n", "text/plain")
                elif self.path == "/readyz":
                    ok = ready()
                    self._send(
                        200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain"
                    )
                elif self.path == "/metrics":
                    self._send(200, generate_latest(registry), "text/plain; version=0.0.4")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="flowpipe-http", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
