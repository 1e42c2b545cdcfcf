"""`flowpipe run FLOW`: compile one flow and run it locally with flowpipe-runtime.

The runtime is a separate program (and image): we start it as a subprocess on the compiled
spec, pass signals on, and exit with its exit code. The compiler never imports it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

from flowpipe_compiler import emit
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.commands.spec import compiled
from flowpipe_compiler.diagnostics import FlowpipeError


def runtime_executable() -> str:
    beside = Path(sys.executable).parent / "flowpipe-runtime"
    found = str(beside) if beside.exists() else shutil.which("flowpipe-runtime")
    if found is None:
        raise FlowpipeError(
            "flowpipe-runtime is not installed; install it with `pip install ./runtime` "
            "(make setup does)"
        )
    return found


def run(path: str, root: Path, http_port: str) -> int:
    spec = compiled(path, root)
    if spec is None:
        return Exit.FINDINGS
    executable = runtime_executable()
    with tempfile.TemporaryDirectory(prefix="flowpipe-run-") as tmp:
        spec_file = Path(tmp) / "flow.json"
        spec_file.write_text(emit.to_json(spec), encoding="utf-8")
        child = subprocess.Popen([executable, str(spec_file), "--http-port", http_port])

        def forward(signum: int, _frame: FrameType | None) -> None:
            if signum != signal.SIGINT:  # the terminal sends SIGINT to the child itself
                child.send_signal(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            return child.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
