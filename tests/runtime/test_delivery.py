"""At-least-once accounting: a delivery is acknowledged once, after all of it is committed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpipe_runtime.delivery import Acknowledger, Delivery
from flowpipe_runtime.engine import Flow
from flowpipe_runtime.settings import Settings

from . import teststages
from .conftest import make_spec, run_flow


def flow_of(
    count: int,
    source_batch: int,
    capacity: int,
    reshape: dict[str, int],
    sink: dict[str, object] | None = None,
    threads: int = 2,
    mode: str = "EXECUTION_MODE_JOB",
) -> dict:
    return make_spec(
        [
            {
                "name": "src",
                "type": "acking_source",
                "threads": threads,
                "output_queue": "a",
                "config": {"count": count, "batch": source_batch},
            },
            {
                "name": "shape",
                "type": "reshape",
                "threads": threads,
                "input_queue": "a",
                "output_queue": "b",
                "config": reshape,
            },
            sink
            or {
                "name": "out",
                "type": "collect",
                "threads": threads,
                "input_queue": "b",
                "config": {"key": "rows"},
            },
        ],
        [{"name": "a", "capacity": capacity}, {"name": "b", "capacity": capacity}],
        mode=mode,
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    count=st.integers(0, 3000),
    source_batch=st.integers(1, 300),
    capacity=st.integers(1, 200),
    drop=st.sampled_from([0, 1, 2, 7]),
    split=st.sampled_from([0, 1, 3]),
)
def test_every_record_is_acknowledged_exactly_once_whatever_transforms_and_queues_do(
    tmp_path: Path, count: int, source_batch: int, capacity: int, drop: int, split: int
) -> None:
    teststages.COLLECTED.clear()
    flow = run_flow(
        flow_of(count, source_batch, capacity, {"drop": drop, "split": split}), tmp_path
    )
    assert flow.failures == []
    assert sorted(teststages.COLLECTED.get("acked", [])) == list(range(count))
    kept = [n for n in range(count) if not (drop and n % drop == 0)]
    expected = sorted(kept + [n for n in kept if split and n % split == 0])
    assert sorted(teststages.COLLECTED.get("rows", [])) == expected
    # Sources closed only after the last acknowledgement.
    assert teststages.COLLECTED["closed_after_acks"] == [count, count]
    assert flow.summary().get("acknowledged", {}).get("src", 0) == count


def test_a_failing_stage_leaves_its_batch_and_later_ones_unacknowledged(tmp_path: Path) -> None:
    sink = {
        "name": "poison",
        "type": "fail_at",
        "threads": 1,
        "input_queue": "b",
        "output_queue": "c",
        "config": {"at": 5000},
    }
    spec = flow_of(20000, 100, 100, {}, sink=sink, threads=1)
    spec["stages"].append(
        {
            "name": "out",
            "type": "collect",
            "threads": 1,
            "kind": "sink",
            "config": {"key": "rows"},
            "input_queue": "c",
        }
    )
    spec["queues"].append({"name": "c", "capacity": 100, "type": "QUEUE_TYPE_IN_MEMORY"})
    flow = run_flow(spec, tmp_path)
    assert flow.failures
    acked = set(teststages.COLLECTED.get("acked", []))
    assert 5000 not in acked
    assert acked <= set(teststages.COLLECTED.get("rows", [])), "acked before committed"
    assert len(acked) < 20000


def test_draining_a_stream_acknowledges_what_it_committed(tmp_path: Path) -> None:
    spec = flow_of(10**9, 50, 64, {}, mode="EXECUTION_MODE_STREAMING")
    flow = Flow(spec, Settings(http_port=None, dead_letter_dir=str(tmp_path)), env={})
    flow.start()
    while len(teststages.COLLECTED.get("rows", [])) < 5000:
        threading.Event().wait(0.01)
    flow.stop("test")
    assert flow.wait(timeout=30)
    rows, acked = teststages.COLLECTED["rows"], teststages.COLLECTED["acked"]
    assert sorted(acked) == sorted(rows), "after a drain, committed == acknowledged"


def test_an_ack_that_fails_is_counted_and_does_not_stop_the_flow() -> None:
    acker = Acknowledger("src")
    done = []

    def broken() -> None:
        raise ConnectionError("broker went away")

    acker.token(Delivery([1, 2], broken)).release()
    acker.token(Delivery([3], lambda: done.append(3))).release()
    acker.stop()
    assert acker.failed == 1 and acker.acked == 1 and done == [3]


@pytest.mark.parametrize("pieces", [1, 3])
def test_a_token_acks_after_its_last_piece(pieces: int) -> None:
    acker = Acknowledger("src")
    done: list[int] = []
    token = acker.token(Delivery([1], lambda: done.append(1)))
    token.retain(pieces - 1)
    for _ in range(pieces - 1):
        token.release()
    acker.stop()
    assert done == []
    acker = Acknowledger("src")
    token = acker.token(Delivery([1], lambda: done.append(1)))
    token.retain(pieces - 1)
    for _ in range(pieces):
        token.release()
    acker.stop()
    assert done == [1]
