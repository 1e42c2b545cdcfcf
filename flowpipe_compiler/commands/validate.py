from __future__ import annotations

import sys
from pathlib import Path

from flowpipe_compiler.check import check_paths
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.reporters import REPORTERS


def validate(paths: list[str], root: Path, output_format: str, strict: bool) -> int:
    results = check_paths(paths, root, compile_spec=False)
    sys.stdout.write(REPORTERS[output_format](results))
    failed = any(r.errors or (strict and r.warnings) for r in results)
    return Exit.FINDINGS if failed else Exit.OK
