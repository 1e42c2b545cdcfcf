"""Reporters turn check results into text for people or for machines.

Each reporter is a function ``render(results) -> str``; ``REPORTERS`` is the one registry the
CLI's ``--format`` choices come from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flowpipe_compiler.check import FileResult
from flowpipe_compiler.reporters import github, json, sarif, text

Reporter = Callable[[Sequence[FileResult]], str]

REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json.render,
    "github": github.render,
    "sarif": sarif.render,
}
