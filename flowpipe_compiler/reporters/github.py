"""GitHub Actions workflow commands: each finding becomes an annotation on the PR."""

from __future__ import annotations

from collections.abc import Sequence

from flowpipe_compiler.check import FileResult
from flowpipe_compiler.diagnostics import CODES


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(results: Sequence[FileResult]) -> str:
    lines = []
    for result in results:
        for d in result.diagnostics:
            props = [f"file={_property(d.file)}"]
            if d.location:
                props += [f"line={d.location.line}", f"col={d.location.col}"]
                if d.location.end_col:
                    props.append(f"endColumn={d.location.end_col}")
            props.append(f"title={_property(f'{d.code} {CODES[d.code].name}')}")
            message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
            lines.append(f"::{d.severity.value} {','.join(props)}::{_data(message)}")
    return "".join(line + "\n" for line in lines)
