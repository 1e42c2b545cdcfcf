"""NATS JetStream: ``nats_source`` (a durable pull consumer, ack after commit) and
``nats_sink`` (publish, waiting for the stream's acknowledgements batch by batch).

nats-py is asyncio: each stage thread runs its own event loop in a helper thread and calls
into it. Credentials come from the environment: ``NATS_USER``/``NATS_PASSWORD``,
``NATS_TOKEN`` or ``NATS_CREDS`` (a credentials file), never from the flow file.

The source's consumer is durable (``durable``, default ``<flow>-<stage>``) with explicit
acks: messages fetched but not acknowledged within ``ack_wait_seconds`` (a crash, a failed
stage) are delivered again, to this or another replica. Records are the messages' payloads
as text (UTF-8).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import orjson

from flowpipe_runtime.sdk import Batch, Delivery, Sink, Source, StageContext

T = TypeVar("T")


class _Loop:
    """An event loop on its own thread; ``run`` waits for a coroutine's result."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _connect(ctx: StageContext, loop: _Loop) -> Any:
    import nats

    url = ctx.config.get("url") or ctx.env.get("NATS_URL") or "nats://127.0.0.1:4222"
    options: dict[str, Any] = {
        "servers": [url],
        "connect_timeout": 5,
        "max_reconnect_attempts": 30,
        "allow_reconnect": True,
        "name": f"flowpipe {ctx.flow}/{ctx.stage}/{ctx.thread_index}",
    }
    env = ctx.env
    if env.get("NATS_USER"):
        options |= {"user": env["NATS_USER"], "password": env.get("NATS_PASSWORD", "")}
    if env.get("NATS_TOKEN"):
        options["token"] = env["NATS_TOKEN"]
    if env.get("NATS_CREDS"):
        options["user_credentials"] = env["NATS_CREDS"]

    async def failed(exc: Exception) -> None:  # nats-py logs and retries by itself
        pass

    try:
        return loop.run(nats.connect(**options, error_cb=failed), timeout=30)
    except Exception as exc:
        loop.stop()
        raise RuntimeError(
            f"cannot connect to NATS at {url}: {type(exc).__name__}: {exc}"
        ) from None


def _disconnect(nc: Any, loop: _Loop) -> None:
    try:
        loop.run(nc.close(), timeout=10)
    finally:
        loop.stop()


class NatsSource(Source):
    def open(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig
        from nats.js.errors import NotFoundError

        config = self.ctx.config
        self.subject = config.get("subject") or self.ctx.env.get("NATS_SUBJECT")
        self.stream = config.get("stream")
        if not self.subject or not self.stream:
            raise RuntimeError("set config.stream and config.subject (or NATS_SUBJECT)")
        durable = config.get("durable") or f"{self.ctx.flow}-{self.ctx.stage}"
        self.loop = _Loop(f"{self.ctx.stage}-{self.ctx.thread_index}-nats")
        self.nc = _connect(self.ctx, self.loop)
        js = self.nc.jetstream()
        try:
            self.loop.run(js.stream_info(self.stream))
        except NotFoundError:
            _disconnect(self.nc, self.loop)
            raise RuntimeError(f"NATS stream '{self.stream}' does not exist") from None
        consumer = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=float(config.get("ack_wait_seconds", 30)),
            max_ack_pending=config.get("max_ack_pending", 65536),
            filter_subject=self.subject,
        )
        self.subscription = self.loop.run(
            js.pull_subscribe(self.subject, durable=durable, stream=self.stream, config=consumer)
        )

    def batches(self) -> Iterator[Batch | Delivery]:
        from nats.errors import TimeoutError as NatsTimeout

        stopping, wanted = self.ctx.stopping, self.ctx.batch_size
        fetch = self.subscription.fetch
        while not stopping.is_set():
            try:
                messages = self.loop.run(fetch(batch=wanted, timeout=1.0))
            except (NatsTimeout, TimeoutError):
                continue
            if messages:
                records = [m.data.decode("utf-8", "replace") for m in messages]
                yield Delivery(records, functools.partial(self._ack, messages))

    def _ack(self, messages: list[Any]) -> None:
        async def ack_all() -> None:
            for message in messages:
                await message.ack()
            await self.nc.flush()

        self.loop.run(ack_all())

    def close(self) -> None:
        _disconnect(self.nc, self.loop)


def _payload(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    if isinstance(record, str):
        return record.encode()
    return orjson.dumps(record)


class NatsSink(Sink):
    """Publishes each record (text as UTF-8, other records as JSON) to ``subject``; a batch
    is written once the stream acknowledged every message of it."""

    def open(self) -> None:
        self.subject = self.ctx.config.get("subject") or self.ctx.env.get("NATS_SUBJECT")
        if not self.subject:
            raise RuntimeError("set config.subject (or NATS_SUBJECT)")
        self.loop = _Loop(f"{self.ctx.stage}-{self.ctx.thread_index}-nats")
        self.nc = _connect(self.ctx, self.loop)
        self.js = self.nc.jetstream()

    def write(self, batch: Batch) -> None:
        async def publish() -> None:
            await asyncio.gather(*(self.js.publish(self.subject, _payload(r)) for r in batch))

        self.loop.run(publish())

    def close(self) -> None:
        _disconnect(self.nc, self.loop)
