"""SARIF 2.1.0, for GitHub code scanning and other static-analysis dashboards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from flowpipe_compiler import __version__
from flowpipe_compiler.check import FileResult
from flowpipe_compiler.diagnostics import CODES, Diagnostic

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning"}


def _result(d: Diagnostic, rule_index: dict[str, int]) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": d.file, "uriBaseId": "%SRCROOT%"}}
    if d.location:
        region = {"startLine": d.location.line, "startColumn": d.location.col}
        if d.location.end_col and d.location.end_col > d.location.col:
            region["endColumn"] = d.location.end_col
        physical["region"] = region
    text = d.message + (f" (hint: {d.hint})" if d.hint else "")
    return {
        "ruleId": d.code,
        "ruleIndex": rule_index[d.code],
        "level": _LEVEL[d.severity.value],
        "message": {"text": text},
        "locations": [{"physicalLocation": physical}],
        "properties": {"jsonPath": d.json_path, "breadcrumb": d.breadcrumb},
    }


def render(results: Sequence[FileResult]) -> str:
    codes = sorted(CODES)
    rule_index = {code: i for i, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": CODES[code].name,
            "shortDescription": {"text": CODES[code].summary},
        }
        for code in codes
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "flowpipe",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": [_result(d, rule_index) for r in results for d in r.diagnostics],
            }
        ],
    }
    return orjson.dumps(log, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
