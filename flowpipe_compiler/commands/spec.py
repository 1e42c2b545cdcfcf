from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowpipe_compiler import emit, graph
from flowpipe_compiler.check import check_paths
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.diagnostics import UsageError
from flowpipe_compiler.reporters import text


def compiled(path: str, root: Path) -> dict[str, Any] | None:
    """The compiled spec of one flow file; its diagnostics go to stderr."""
    results = check_paths([path], root)
    if len(results) != 1:
        raise UsageError(f"{path}: expected one flow file, found {len(results)}")
    (result,) = results
    if result.diagnostics:
        sys.stderr.write(text.render(results))
    return result.spec


def _print(path: str, root: Path, render: Callable[[dict[str, Any]], str]) -> int:
    spec = compiled(path, root)
    if spec is None:
        return Exit.FINDINGS
    sys.stdout.write(render(spec))
    return Exit.OK


def spec(path: str, root: Path, as_json: bool) -> int:
    return _print(path, root, emit.to_json if as_json else emit.to_yaml)


def draw(path: str, root: Path, output_format: str) -> int:
    return _print(path, root, graph.dot if output_format == "dot" else graph.mermaid)
