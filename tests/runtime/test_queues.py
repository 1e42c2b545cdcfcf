"""BatchQueue: backpressure, capacity, end of stream, abort."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpipe_runtime.queues import Aborted, BatchQueue


@given(
    capacity=st.integers(1, 64),
    batch_size=st.integers(1, 64),
    batches=st.lists(st.integers(0, 150), min_size=1, max_size=30),
    producers=st.integers(1, 3),
    consumers=st.integers(1, 3),
)
@settings(max_examples=60, deadline=None)
def test_every_record_arrives_once_and_depth_never_exceeds_capacity(
    capacity: int, batch_size: int, batches: list[int], producers: int, consumers: int
) -> None:
    queue = BatchQueue("q", capacity, batch_size)
    for _ in range(producers):
        queue.add_producer()
    received: list[int] = []
    sizes: list[int] = []
    lock = threading.Lock()
    counter = iter(range(10**9))
    sent: list[int] = []

    def produce(sizes: list[int]) -> None:
        for size in sizes:
            with lock:
                batch = [next(counter) for _ in range(size)]
                sent.extend(batch)
            queue.put(batch)
        queue.producer_done()

    def consume() -> None:
        while (batch := queue.get()) is not None:
            with lock:
                sizes.append(len(batch))
                received.extend(batch)

    threads = [
        threading.Thread(target=produce, args=(batches[i::producers],)) for i in range(producers)
    ] + [threading.Thread(target=consume) for _ in range(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert sorted(received) == sorted(sent)
    assert queue.stats.max_depth <= capacity
    assert all(0 < size <= queue.batch_size for size in sizes)
    assert queue.stats.enqueued == queue.stats.dequeued == len(sent)


def test_a_full_queue_blocks_its_producer() -> None:
    queue = BatchQueue("q", 4, 4)
    queue.add_producer()
    queue.put([1, 2, 3, 4])
    done = threading.Event()

    def produce() -> None:
        queue.put([5])
        done.set()

    thread = threading.Thread(target=produce)
    thread.start()
    assert not done.wait(0.2), "put into a full queue returned"
    assert queue.get() == [1, 2, 3, 4]
    assert done.wait(2)
    thread.join()


def test_abort_wakes_blocked_producers_and_consumers() -> None:
    full = BatchQueue("full", 1, 1)
    full.add_producer()
    full.put([1])
    empty = BatchQueue("empty", 1, 1)
    empty.add_producer()
    errors: list[str] = []

    def blocked(call: object) -> None:
        try:
            call()  # type: ignore[operator]
        except Aborted as exc:
            errors.append(str(exc))

    threads = [
        threading.Thread(target=blocked, args=(lambda: full.put([2]),)),
        threading.Thread(target=blocked, args=(empty.get,)),
    ]
    for t in threads:
        t.start()
    full.abort()
    empty.abort()
    for t in threads:
        t.join(2)
    assert sorted(errors) == ["empty", "full"]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BatchQueue("q", 0, 1)


def test_end_of_stream_reaches_every_consumer() -> None:
    queue = BatchQueue("q", 8, 4)
    queue.add_producer()
    results: list[object] = []
    consumers = [threading.Thread(target=lambda: results.append(queue.get())) for _ in range(3)]
    for t in consumers:
        t.start()
    queue.producer_done()
    for t in consumers:
        t.join(2)
    assert results == [None, None, None]
