"""Machine-readable findings: one JSON document, keys sorted, stable across runs."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from flowpipe_compiler.check import FileResult

FORMAT_VERSION = 1


def render(results: Sequence[FileResult]) -> str:
    document = {
        "version": FORMAT_VERSION,
        "summary": {
            "files": len(results),
            "errors": sum(r.errors for r in results),
            "warnings": sum(r.warnings for r in results),
        },
        "files": [
            {
                "path": r.path,
                "ok": r.errors == 0,
                "diagnostics": [d.as_dict() for d in r.diagnostics],
            }
            for r in results
        ],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
