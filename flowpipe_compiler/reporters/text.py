"""``path:line:col: error[CODE]: message``, the source line with a caret, path and hint."""

from __future__ import annotations

from collections.abc import Sequence

from flowpipe_compiler.check import FileResult
from flowpipe_compiler.diagnostics import Diagnostic


def _quote(diagnostic: Diagnostic, text: str | None) -> list[str]:
    loc = diagnostic.location
    if loc is None or text is None:
        return []
    lines = text.splitlines()
    if not 0 < loc.line <= len(lines):
        return []
    source = lines[loc.line - 1].expandtabs(1)
    width = max(1, (loc.end_col or loc.col + 1) - loc.col)
    gutter = " " * len(str(loc.line))
    return [
        f" {loc.line} | {source}",
        f" {gutter} | {' ' * (loc.col - 1)}{'^' * width}",
    ]


def format_diagnostic(diagnostic: Diagnostic, text: str | None) -> str:
    loc = diagnostic.location
    where = f"{diagnostic.file}:{loc.line}:{loc.col}" if loc else diagnostic.file
    out = [f"{where}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"]
    out.extend(_quote(diagnostic, text))
    if diagnostic.json_path != "$" or diagnostic.breadcrumb:
        trail = f" ({diagnostic.breadcrumb})" if diagnostic.breadcrumb else ""
        out.append(f"  = at: {diagnostic.json_path}{trail}")
    if diagnostic.hint:
        out.append(f"  = hint: {diagnostic.hint}")
    return "\n".join(out)


def render(results: Sequence[FileResult]) -> str:
    blocks = [format_diagnostic(d, result.text) for result in results for d in result.diagnostics]
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    bad = sum(1 for r in results if r.errors)
    files = len(results)
    noun = "file" if files == 1 else "files"
    if errors or warnings:
        summary = (
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
            f" ({bad} of {files} {noun} with errors)"
        )
    else:
        summary = f"{files} {noun} checked, no problems"
    return "\n\n".join([*blocks, summary]) + "\n"
