"""rabbitmq_source: a RabbitMQ queue consumed with manual acknowledgements.

Messages are gathered into batches (up to the flow's batch size, or what arrived within
0.2 s) and acknowledged one by one once committed downstream; ``prefetch`` bounds what the
broker sends ahead. pika's connection belongs to the source's thread, so acknowledgements
from other threads are handed to it (``add_callback_threadsafe``) and sent while it
consumes, and before it closes. Unacknowledged messages return to the queue when the
connection ends (a crash included): at-least-once. Records are the bodies as text (UTF-8).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

from flowpipe_runtime.sdk import Batch, Delivery, Source

log = logging.getLogger("flowpipe.stage")


class RabbitMqSource(Source):
    def open(self) -> None:
        import pika
        from pika.exceptions import AMQPError, ChannelClosedByBroker

        config, env = self.ctx.config, self.ctx.env
        url = config.get("url") or env.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/%2F"
        self.queue = config["queue"]
        parameters = pika.URLParameters(url)
        if env.get("AMQP_USER"):
            parameters.credentials = pika.PlainCredentials(
                env["AMQP_USER"], env.get("AMQP_PASSWORD", "")
            )
        host = f"{parameters.host}:{parameters.port}"
        try:
            self.connection = pika.BlockingConnection(parameters)
        except AMQPError as exc:
            raise RuntimeError(
                f"cannot connect to RabbitMQ at {host}: {type(exc).__name__} {exc}"
            ) from None
        try:
            self.channel = self.connection.channel()
            self.channel.queue_declare(self.queue, passive=True)
            self.channel.basic_qos(prefetch_count=config.get("prefetch", 2048))
        except ChannelClosedByBroker as exc:
            self.connection.close()
            raise RuntimeError(
                f"RabbitMQ queue '{self.queue}' on {host}: {exc.reply_text}"
            ) from None

    def batches(self) -> Iterator[Batch | Delivery]:
        stopping, wanted = self.ctx.stopping, self.ctx.batch_size
        records: list[Any] = []
        tags: list[int] = []
        for method, _properties, body in self.channel.consume(
            self.queue, auto_ack=False, inactivity_timeout=0.2
        ):
            if method is not None:
                records.append(body.decode("utf-8", "replace"))
                tags.append(method.delivery_tag)
            if records and (method is None or len(records) >= wanted or stopping.is_set()):
                yield Delivery(records, functools.partial(self._ack, tags))
                records, tags = [], []
            if stopping.is_set():
                break

    def _ack(self, tags: list[int]) -> None:
        def send() -> None:
            for tag in tags:
                self.channel.basic_ack(tag)

        self.connection.add_callback_threadsafe(send)

    def close(self) -> None:
        from pika.exceptions import AMQPError

        try:
            self.connection.process_data_events(time_limit=0)  # the acks handed over last
            self.channel.cancel()  # what was prefetched but never handed on goes back
            self.connection.close()
        except AMQPError as exc:  # the broker went away: unacked messages come back anyway
            log.warning(f"stage '{self.ctx.stage}': closing the RabbitMQ connection: {exc!r}")
