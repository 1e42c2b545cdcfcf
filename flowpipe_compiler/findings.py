"""Collecting the diagnostics of one file, each located through the loaded document."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from flowpipe_compiler.diagnostics import Diagnostic, Path, Severity, json_path
from flowpipe_compiler.source import Document

_ITEM_NOUN = {"stages": "stage", "queues": "queue"}


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'x'?"`` for the closest choice, or ``None`` when nothing is close."""
    pool = list(choices)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return f"did you mean '{lowered[word.lower()]}'?"
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def breadcrumb(data: Any, path: Path) -> str:
    """A human trail to ``path``: ``stage 'parser' > config > delimiter``."""
    parts: list[str] = []
    node = data
    i = 0
    while i < len(path):
        part = path[i]
        nxt = path[i + 1] if i + 1 < len(path) else None
        if isinstance(part, str) and part in _ITEM_NOUN and isinstance(nxt, int):
            item = node.get(part, [None])[nxt] if isinstance(node, dict) else None
            name = item.get("name") if isinstance(item, dict) else None
            noun = _ITEM_NOUN[part]
            parts.append(f"{noun} '{name}'" if isinstance(name, str) else f"{part}[{nxt}]")
            node, i = item, i + 2
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
        i += 1
    return " > ".join(parts)


class Findings:
    """Diagnostics for one document; ``path`` arguments are data paths into it."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.items: list[Diagnostic] = []

    def add(
        self,
        code: str,
        message: str,
        path: Path = (),
        *,
        at_key: bool = False,
        hint: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.items.append(
            Diagnostic(
                code=code,
                severity=severity,
                message=message,
                file=self.doc.path,
                location=self.doc.locate(path, key=at_key),
                json_path=json_path(path),
                breadcrumb=breadcrumb(self.doc.data, path),
                hint=hint,
            )
        )

    def warn(self, code: str, message: str, path: Path = (), **kw: Any) -> None:
        self.add(code, message, path, severity=Severity.WARNING, **kw)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)
