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
import resource
import shutil
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


def cold(
    cmd: list[str], runs: int = 15, cwd: Path = REPO, before: Callable[[], object] = lambda: None
) -> float:
    """Median wall time in seconds of ``cmd`` run as a fresh process (``before`` each run)."""
    times = []
    before()
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)  # warm the page cache
    for _ in range(runs):
        before()
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


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MiB, and stderr of one run with stdout to /dev/null."""
    with Path(os.devnull).open("wb") as devnull:
        start = time.perf_counter()
        child = subprocess.Popen(
            cmd, stdout=devnull, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
        )
        assert child.stderr is not None
        err = child.stderr.read().decode()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({child.returncode}): {err[-2000:]}")
    return elapsed, usage.ru_maxrss // 1024, err


def flow_seconds(stderr: str) -> float:
    import json

    finished = [json.loads(line) for line in stderr.splitlines() if '"flow finished"' in line]
    return float(finished[-1]["seconds"])


def compiled(flow: Path, directory: Path) -> str:
    spec = directory / (flow.stem + ".json")
    done = subprocess.run(
        [str(BIN / "flowpipe"), "spec", "--json", "--root", str(flow.parent), str(flow)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    spec.write_text(done.stdout)
    return str(spec)


def bytewax_python() -> Path:
    venv = REPO / ".cache" / "bytewax-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "bytewax==0.21.*"], check=True)
    return python


def runtime_suite() -> list[str]:
    runtime = str(BIN / "flowpipe-runtime")
    count = 10_000_000
    original = {"noop-stdout": 1.07e6, "noop-transform-stdout": 0.71e6}
    goal = {"noop-stdout": 8.5e6, "noop-transform-stdout": 3.5e6}
    bytewax_shape = {"noop-stdout": "direct", "noop-transform-stdout": "transform"}
    rows = [
        "10 M messages, queue capacity 1024, stdout to /dev/null, job mode; median of 3 runs.",
        "Rate = messages / time from start of the flow to its end (the runtime's own log);",
        "the whole process, start-up included, is in the 'process' column.",
        "",
        "| pipeline | runtime | msgs/s | x original C++ | goal | process | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    python = bytewax_python()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("noop-stdout", "noop-transform-stdout"):
            spec = compiled(REPO / "flows" / "bench" / f"{name}.yaml", Path(tmp))
            runs = [run_measured([runtime, spec, "--http-port", "off"]) for _ in range(3)]
            seconds = statistics.median(flow_seconds(err) for _, _, err in runs)
            wall = statistics.median(w for w, _, _ in runs)
            rss = max(r for _, r, _ in runs)
            rate = count / seconds
            rows.append(
                f"| {name} | flowpipe | {rate / 1e6:.1f} M | {rate / original[name]:.1f}x | "
                f">= {goal[name] / 1e6:.1f} M | {wall:.2f} s | {rss} MiB |"
            )
            for style, n in (("stock", 2_000_000), ("batched", count)):
                script = str(REPO / "benchmarks" / "bytewax_flows.py")
                runs = [
                    run_measured([str(python), script, style, bytewax_shape[name], str(n)])
                    for _ in range(3)
                ]
                rate = statistics.median(float(err.split()[-1]) for _, _, err in runs)
                rss = max(r for _, r, _ in runs)
                rows.append(
                    f"| {name} | Bytewax 0.21, {style} sink | {rate / 1e6:.1f} M | "
                    f"{rate / original[name]:.1f}x | | | {rss} MiB |"
                )
        rows += ["", *csv_to_sqlite(Path(tmp)), "", *io_threads(Path(tmp))]
    return rows


def csv_to_sqlite(tmp: Path) -> list[str]:
    rows_total = 500_000
    data = tmp / "csv"
    data.mkdir()
    with (data / "trades.csv").open("w") as out:
        out.write("trade_id,symbol,price,quantity\n")
        for i in range(rows_total):
            out.write(f"{i},SYM{i % 50},{100 + i % 1000 / 10:.2f},{1 + i % 500}\n")
    flow = tmp / "csv-bench.yaml"
    flow.write_text(
        (REPO / "flows" / "csv-to-sqlite.yaml")
        .read_text()
        .replace("examples/data/*.csv", str(data / "*.csv"))
        .replace("sqlite:///out/trades.db", f"sqlite:///{tmp / 'bench.db'}")
        .replace("out/csv-to-sqlite.rejected.jsonl", str(tmp / "rejected.jsonl"))
        .replace("mode: upsert", "mode: append")
    )
    done = subprocess.run(
        [str(BIN / "flowpipe"), "spec", "--json", "--root", str(tmp), str(flow)],
        capture_output=True,
        text=True,
        check=True,
    )
    spec = tmp / "csv-bench.json"
    spec.write_text(done.stdout)
    _, rss, err = run_measured([str(BIN / "flowpipe-runtime"), str(spec), "--http-port", "off"])
    seconds = flow_seconds(err)
    return [
        f"CSV -> SQLite (file_source -> csv_parser x2 -> db_writer, typed columns, {rows_total:,}"
        f" rows): **{rows_total / seconds:,.0f} rows/s** ({seconds:.2f} s; peak RSS {rss} MiB).",
    ]


def io_threads(tmp: Path) -> list[str]:
    records = 2000
    lines = [
        f"A stage that waits on I/O (noop_transform, delay_ms: 1 per record, {records} records,"
        " batch size 16): throughput by its thread count.",
        "",
        "| threads | records/s | speed-up |",
        "|---|---|---|",
    ]
    base = None
    for threads in (1, 2, 4, 8):
        flow = tmp / f"io-{threads}.yaml"
        flow.write_text(
            "name: io\nexecution: {mode: job}\nstages:\n"
            "  - {name: s, type: noop_source, output_queue: a,"
            f" config: {{max_messages: {records}}}}}\n"
            f"  - {{name: t, type: noop_transform, threads: {threads}, input_queue: a,"
            " output_queue: b, config: {delay_ms: 1}}\n"
            "  - {name: o, type: stdout_sink, input_queue: b}\n"
            "queues: [{name: a, capacity: 64}, {name: b, capacity: 64}]\n"
        )
        spec = compiled(flow, tmp)
        _, _, err = run_measured(
            [str(BIN / "flowpipe-runtime"), spec, "--http-port", "off"],
            {"FLOWPIPE_BATCH_SIZE": "16"},
        )
        rate = records / flow_seconds(err)
        base = base or rate
        lines.append(f"| {threads} | {rate:,.0f} | {rate / base:.1f}x |")
    return lines


def registry_suite() -> list[str]:
    import json

    sys.path.insert(0, str(REPO))
    from flowpipe_compiler.registry.compat import readable

    schemas_count, flows_count = 200, 1000
    rows = ["| measurement | time | note |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        for i in range(schemas_count):
            folder = root / "schemas" / f"s{i:03d}"
            folder.mkdir(parents=True)
            (folder / "schema.yaml").write_text("format: JSON\nactive: 2\n")
            props = {f"f{j}": {"type": "integer"} for j in range(20)}
            v1 = {"type": "object", "properties": props, "additionalProperties": False}
            v2 = {**v1, "properties": {**props, "extra": {"type": "string"}}}
            (folder / "v1.json").write_text(json.dumps(v1))
            (folder / "v2.json").write_text(json.dumps(v2))
        flows = root / "flows"
        flows.mkdir()
        for i in range(flows_count):
            (flows / f"f{i:04d}.yaml").write_text(
                f"name: flow-{i}\nstages:\n  - {{name: s, type: noop_source, output_queue: q}}\n"
                "  - {name: o, type: stdout_sink, input_queue: q}\n"
                f"queues:\n  - name: q\n    schema: {{schema_id: s{i % schemas_count:03d}}}\n"
            )
        validate = cold([str(BIN / "flowpipe"), "validate", "--root", tmp, str(flows)], runs=5)
        check = cold([str(BIN / "flowpipe"), "schema", "check", "--root", tmp], runs=5)
    rows.append(
        f"| `flowpipe validate` {flows_count} flows, each resolving a schema of a "
        f"{schemas_count}-schema registry | {validate:.2f} s | cold process |"
    )
    rows.append(
        f"| `flowpipe schema check` of {schemas_count} schemas x 2 versions | {check:.2f} s |"
        " metaschema + compatibility |"
    )
    props = {f"p{j}": {"type": "integer", "minimum": 0, "maximum": 10**6} for j in range(200)}
    old = {"type": "object", "properties": props, "required": list(props)[:100]}
    new = {**old, "properties": {**props, "p0": {"type": "number"}}}
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        readable(new, old)
        timings.append(time.perf_counter() - start)
    rows.append(
        f"| compatibility check of a 200-property schema pair | "
        f"{statistics.median(timings) * 1000:.2f} ms | median of 50 |"
    )
    return rows


def render_suite() -> list[str]:
    rows = [
        "Both shapes (Kustomize and Helm), the dev and prod overlays, every object checked",
        "against the Kubernetes 1.33 OpenAPI schema; a new output directory each run (median",
        "of 3 after a warm-up). Earlier outputs are deleted only after the last run: on this",
        "machine's ext4 (mounted with `discard`) creating files right after deleting thousands",
        "costs 2-3x more kernel time, which measured the file system rather than the compiler.",
        "",
        "| flows | files | time | per flow | CPU user + sys |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 10, 100, 1000):
            root = Path(tmp) / str(count)
            (root / "flows").mkdir(parents=True)
            (root / ".git").mkdir()
            generate_flows(root / "flows", count)
            shutil.copytree(REPO / "overlays", root / "overlays")
            for overlay in (root / "overlays").glob("*/overlay.yaml"):
                text = overlay.read_text().split("  orders-fanout:")[0]
                overlay.write_text(text.replace("  trade-ingest:", "  trade-ingest-0:"))
            walls, cpus = [], []
            for run in range(4):
                cmd = [str(BIN / "flowpipe"), "compile", "--root", str(root)]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    [*cmd, "--out", str(root / f"out-{run}")], check=True, capture_output=True
                )
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if run:  # the first run warms the page cache
                    walls.append(time.perf_counter() - start)
                    cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            files = sum(1 for p in (root / "out-0").rglob("*") if p.is_file())
            seconds = statistics.median(walls)
            note = (
                " (goal <= 5 s)"
                if count == 1000
                else " (one flow, cold process)"
                if count == 1
                else ""
            )
            rows.append(
                f"| {count} | {files} | {seconds:.2f} s{note} | {seconds / count * 1000:.1f} ms"
                f" | {statistics.median(cpus):.2f} s |"
            )
        source = Path(tmp) / "argocd"
        for part in ("flows", "overlays", "schemas"):
            shutil.copytree(REPO / part, source / part)
        environ = {
            **os.environ,
            "ARGOCD_APP_NAME": "flows-prod",
            "ARGOCD_APP_NAMESPACE": "flowpipe",
            "KUBE_VERSION": "1.33.2",
            "ARGOCD_APP_PARAMETERS": '[{"name": "environment", "string": "prod"}]',
        }
        times = []
        for _ in range(6):
            start = time.perf_counter()
            subprocess.run(
                [str(BIN / "flowpipe"), "argocd", "generate"],
                cwd=source,
                env=environ,
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    flows = len(list((REPO / "flows").rglob("*.yaml")))
    rows += [
        "",
        f"Argo CD plugin, `flowpipe argocd generate` for this repository's prod application "
        f"({flows} flows, no `.git`), cold process: **{statistics.median(times[1:]):.2f} s** "
        "(median of 5; goal < 1 s).",
    ]
    return rows


def connectors() -> list[str]:
    sys.path.insert(0, str(Path(__file__).parent))
    from connectors import connectors_suite

    return connectors_suite()


SUITES: dict[str, Callable[[], list[str]]] = {
    "render": render_suite,
    "compiler": compiler_suite,
    "runtime": runtime_suite,
    "registry": registry_suite,
    "connectors": connectors,
}


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
