"""`make bench`: measure, print, and record the figures in docs/benchmarks.md.

Each suite writes its own section of the document (between markers), headed with the machine
and date, so re-running one suite keeps the others. Run one with `make bench SUITE=compiler`.
Targets are stated next to the figures; nothing here fails a build.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def cold(cmd: list[str], runs: int = 15, cwd: Path = REPO) -> float:
    """Median wall time in seconds of ``cmd`` run as a fresh process."""
    times = []
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)  # warm the page cache
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generate_flows(directory: Path, count: int) -> None:
    template = (REPO / "flows" / "trade-ingest.yaml").read_text(encoding="utf-8")
    for i in range(count):
        text = template.replace("name: trade-ingest", f"name: trade-ingest-{i}")
        text = text.replace("threads: 4", f"threads: {1 + i % 8}")
        (directory / f"flow-{i:04d}.yaml").write_text(text, encoding="utf-8")


def compiler_suite() -> list[str]:
    flow = "flows/trade-ingest.yaml"
    schema = "flowpipe_compiler/schemas/flow.schema.json"
    ours = cold([str(BIN / "flowpipe"), "validate", flow])
    theirs = cold([str(BIN / "check-jsonschema"), "--schemafile", schema, flow])
    baseline = cold([sys.executable, "-c", "pass"])
    rows = [
        "| measurement | median | note |",
        "|---|---|---|",
        f"| `flowpipe validate` one flow, cold process | {ours * 1000:.0f} ms | "
        f"goal <= 0.5x check-jsonschema: **{ours / theirs:.2f}x** |",
        f"| `check-jsonschema --schemafile` same file and schema | {theirs * 1000:.0f} ms | |",
        f"| `python -c pass` | {baseline * 1000:.0f} ms | interpreter start |",
    ]
    scaling = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in (10, 100, 1000):
            directory = Path(tmp) / str(count)
            directory.mkdir()
            generate_flows(directory, count)
            seconds = cold(
                [str(BIN / "flowpipe"), "validate", "--root", tmp, str(directory)], runs=5
            )
            scaling.append((count, seconds))
    for count, seconds in scaling:
        goal = " goal <= 2 s" if count == 1000 else ""
        rows.append(
            f"| `flowpipe validate` {count} flows, one process | {seconds:.2f} s | "
            f"{seconds / count * 1000:.2f} ms/flow{goal} |"
        )
    return rows


SUITES: dict[str, Callable[[], list[str]]] = {"compiler": compiler_suite}


def record(name: str, rows: list[str]) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join(
        [
            f"<!-- bench:{name} -->",
            f"## {name}",
            "",
            f"Measured {stamp} on {machine()}.",
            "",
            *rows,
            f"<!-- /bench:{name} -->",
        ]
    )
    text = (
        DOC.read_text(encoding="utf-8")
        if DOC.exists()
        else (
            "# Benchmarks\n\nWritten by `make bench` (benchmarks/run.py); each section is replaced "
            "when its suite runs again.\n"
        )
    )
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    wanted = argv or list(SUITES)
    for name in wanted:
        if name not in SUITES:
            print(f"unknown suite {name!r}; known: {', '.join(SUITES)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        rows = SUITES[name]()
        print("\n".join(rows), flush=True)
        record(name, rows)
    print(f"recorded in {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
