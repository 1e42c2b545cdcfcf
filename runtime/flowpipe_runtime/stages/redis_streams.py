"""Redis Streams: ``redis_stream_source`` (a consumer group member, XACK after commit) and
``redis_stream_sink`` (XADD, one pipeline per batch).

The source reads as consumer ``<HOSTNAME>-<thread>`` of ``group``. After a restart it first
re-reads its own pending entries (delivered before the crash, never acknowledged), then new
ones; entries left pending by another consumer for longer than ``claim_idle_ms`` (a replica
that died) are claimed with XAUTOCLAIM. Records are the entries' fields (a dict of text).
The password belongs in ``REDIS_PASSWORD`` (from a Secret), not in the URL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import orjson

from flowpipe_runtime.sdk import Batch, Delivery, Sink, Source, StageContext


def _client(ctx: StageContext) -> Any:
    import redis

    url = ctx.config.get("url") or ctx.env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(
        url,
        decode_responses=True,
        password=ctx.env.get("REDIS_PASSWORD") or None,
        socket_connect_timeout=5,
        socket_timeout=30,
        retry_on_timeout=True,
        health_check_interval=30,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise RuntimeError(f"cannot connect to Redis at {url}: {exc}") from None
    return client


class RedisStreamSource(Source):
    def open(self) -> None:
        import redis

        config = self.ctx.config
        self.stream = config["stream"]
        self.group = config.get("group") or f"{self.ctx.flow}-{self.ctx.stage}"
        self.consumer = f"{os.environ.get('HOSTNAME', 'local')}-{self.ctx.thread_index}"
        self.claim_idle = config.get("claim_idle_ms", 30000)
        self.client = _client(self.ctx)
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                self.client.close()
                raise RuntimeError(f"Redis stream '{self.stream}': {exc}") from None

    def _delivery(self, entries: list[Any]) -> Delivery | None:
        ids = [entry_id for entry_id, _ in entries]
        records = [fields for _, fields in entries if fields is not None]  # None: deleted
        if not ids:
            return None
        return Delivery(records, lambda: self.client.xack(self.stream, self.group, *ids))

    def batches(self) -> Iterator[Batch | Delivery]:
        stopping, wanted = self.ctx.stopping, self.ctx.batch_size
        read = self.client.xreadgroup
        pending: str | None = "0"  # our own entries from before a restart, first
        next_claim = 0.0
        while not stopping.is_set():
            if pending is not None:
                reply = read(self.group, self.consumer, {self.stream: pending}, count=wanted)
                entries = reply[0][1] if reply else []
                if not entries:
                    pending = None
                    continue
                pending = entries[-1][0]
            elif time.monotonic() >= next_claim:
                next_claim = time.monotonic() + self.claim_idle / 2000
                entries = self.client.xautoclaim(
                    self.stream, self.group, self.consumer, self.claim_idle, "0-0", count=wanted
                )[1]
                if not entries:
                    continue
            else:
                reply = read(
                    self.group, self.consumer, {self.stream: ">"}, count=wanted, block=1000
                )
                entries = reply[0][1] if reply else []
            delivery = self._delivery(entries)
            if delivery is not None:
                yield delivery

    def close(self) -> None:
        self.client.close()


class RedisStreamSink(Sink):
    def open(self) -> None:
        self.stream = self.ctx.config["stream"]
        self.max_length = self.ctx.config.get("max_length")
        self.client = _client(self.ctx)

    def write(self, batch: Batch) -> None:
        pipe = self.client.pipeline(transaction=False)
        for record in batch:
            if isinstance(record, dict):
                fields = {
                    k: v if isinstance(v, str | int | float | bytes) else orjson.dumps(v)
                    for k, v in record.items()
                }
            else:
                fields = {
                    "data": record if isinstance(record, str | bytes) else orjson.dumps(record)
                }
            pipe.xadd(self.stream, fields, maxlen=self.max_length, approximate=True)
        pipe.execute()

    def close(self) -> None:
        self.client.close()
