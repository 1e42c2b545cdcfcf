"""The two benchmark pipelines in Bytewax 0.21 (one worker), for side-by-side figures.

usage: python bytewax_flows.py {stock|batched} {direct|transform} COUNT
stock: items flow one by one into Bytewax's own StdOutSink (a print per item);
batched: each item is a list of 1,024 messages, written with one write per list.
"""

from __future__ import annotations

import sys
import time

import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

BATCH = 1024


class _Part(StatelessSourcePartition):
    def __init__(self, count: int, batched: bool) -> None:
        self.left = count
        self.batched = batched

    def next_batch(self) -> list:
        if self.left <= 0:
            raise StopIteration
        n = min(BATCH, self.left)
        self.left -= n
        return [["hello"] * n] if self.batched else ["hello"] * n


class NoopSource(DynamicSource):
    def __init__(self, count: int, batched: bool) -> None:
        self.count = count
        self.batched = batched

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Part:
        return _Part(self.count, self.batched)


class _BatchOut(StatelessSinkPartition):
    def write_batch(self, items: list) -> None:
        out = sys.stdout.buffer
        for batch in items:
            out.write(("\n".join(batch) + "\n").encode())


class BatchStdOut(DynamicSink):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _BatchOut:
        return _BatchOut()


def main() -> None:
    style, shape, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batched = style == "batched"
    flow = Dataflow("bench")
    stream = op.input("source", flow, NoopSource(count, batched))
    if shape == "transform":
        stream = op.map("transform", stream, lambda x: x)
    op.output("sink", stream, BatchStdOut() if batched else StdOutSink())
    start = time.perf_counter()
    run_main(flow)
    sys.stdout.flush()
    print(f"{count / (time.perf_counter() - start):.0f}", file=sys.stderr)


if __name__ == "__main__":
    main()
