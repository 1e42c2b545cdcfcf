"""sqs_listener: messages from an AWS SQS queue, deleted only after they were committed.

Each thread long-polls (``wait_time_seconds``) and gathers up to the flow's batch size of
messages (10 per receive, SQS's limit) into one delivery; the messages are deleted, in
batches of 10, once every record made from them is committed downstream. A message whose
delivery is still in flight when half its ``visibility_timeout`` has passed gets its
visibility extended, so a slow batch is not handed to another consumer meanwhile. What is
not deleted (a crash, a failed stage) becomes visible again and is delivered again:
at-least-once.

Credentials come from the usual AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
from a Secret, or a service account's web identity); ``endpoint_url`` (or
``AWS_ENDPOINT_URL_SQS``) points at another SQS, such as LocalStack or moto.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from flowpipe_runtime.sdk import Batch, Delivery, Source


class SqsListener(Source):
    def open(self) -> None:
        import boto3
        from botocore.config import Config

        config, env = self.ctx.config, self.ctx.env
        self.url = config.get("queue_url") or env.get("SQS_QUEUE_URL")
        if not self.url:
            raise RuntimeError("no queue: set config.queue_url or the SQS_QUEUE_URL variable")
        match = re.search(r"sqs[.-]([a-z0-9-]+)\.amazonaws\.com", self.url)
        region = (
            config.get("region")
            or env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION")
            or (match[1] if match else "us-east-1")
        )
        endpoint = (
            config.get("endpoint_url")
            or env.get("AWS_ENDPOINT_URL_SQS")
            or env.get("AWS_ENDPOINT_URL")
        )
        self.max_messages = config.get("max_messages", 10)
        self.wait = config.get("wait_time_seconds", 20)
        self.visibility = config.get("visibility_timeout", 30)
        self.client = boto3.session.Session().client(
            "sqs",
            region_name=region,
            endpoint_url=endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5),
        )
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise RuntimeError(
                f"SQS queue {self.url}: {error.get('Code', 'error')}: {error.get('Message', exc)}"
            ) from None
        except BotoCoreError as exc:
            raise RuntimeError(f"SQS queue {self.url}: {exc}") from None
        self._inflight: dict[int, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._keeper: threading.Thread | None = None
        if self.visibility:
            self._keeper = threading.Thread(
                target=self._keep_invisible, name=f"{self.ctx.stage}-visibility", daemon=True
            )
            self._keeper.start()

    def batches(self) -> Iterator[Batch | Delivery]:
        stopping = self.ctx.stopping
        wanted = self.ctx.batch_size
        while not stopping.is_set():
            records: list[Any] = []
            handles: list[str] = []
            started = time.monotonic()
            while len(records) < wanted and not stopping.is_set():
                response = self.client.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(self.max_messages, wanted - len(records)),
                    WaitTimeSeconds=0 if records else self.wait,
                    VisibilityTimeout=self.visibility,
                )
                messages = response.get("Messages", [])
                records.extend(m["Body"] for m in messages)
                handles.extend(m["ReceiptHandle"] for m in messages)
                # Hand over what there is once the queue runs dry or the batch waited long.
                if len(messages) < self.max_messages or time.monotonic() - started > 0.5:
                    break
            if records:
                yield self._delivery(records, handles)

    def _delivery(self, records: list[Any], handles: list[str]) -> Delivery:
        key = id(handles)
        with self._lock:
            self._inflight[key] = (time.monotonic(), handles)

        def ack() -> None:
            for start in range(0, len(handles), 10):
                entries = [
                    {"Id": str(i), "ReceiptHandle": handle}
                    for i, handle in enumerate(handles[start : start + 10])
                ]
                failed = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries).get(
                    "Failed", []
                )
                if failed:
                    raise RuntimeError(f"SQS refused to delete {len(failed)} messages: {failed}")
            with self._lock:
                self._inflight.pop(key, None)

        return Delivery(records, ack)

    def _keep_invisible(self) -> None:
        """Extend the visibility of deliveries in flight longer than half the timeout."""
        half = self.visibility / 2
        while not self._closing.wait(max(half / 2, 0.5)):
            now = time.monotonic()
            with self._lock:
                due = [(k, h) for k, (since, h) in self._inflight.items() if now - since > half]
            for key, handles in due:
                try:
                    for start in range(0, len(handles), 10):
                        self.client.change_message_visibility_batch(
                            QueueUrl=self.url,
                            Entries=[
                                {
                                    "Id": str(i),
                                    "ReceiptHandle": handle,
                                    "VisibilityTimeout": self.visibility,
                                }
                                for i, handle in enumerate(handles[start : start + 10])
                            ],
                        )
                except Exception:  # the messages come again; at-least-once allows it
                    continue
                with self._lock:
                    if key in self._inflight:
                        self._inflight[key] = (now, handles)

    def close(self) -> None:
        if getattr(self, "_keeper", None) is not None:
            self._closing.set()
            assert self._keeper is not None
            self._keeper.join()
