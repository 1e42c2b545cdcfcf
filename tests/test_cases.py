"""Data-driven cases: adding a folder under tests/cases/ adds a test.

``valid/<name>/``: the flow file exits 0; ``expected.txt`` (optional) is the text report
(warnings); ``expected.yaml`` (optional) is the compiled spec.
``invalid/<name>/``: the flow file exits 1 and ``expected.txt`` is the exact text report.
A case folder may hold a ``schemas/`` registry for the flow's queue schema references.
Regenerate expectations after a deliberate change with ``make golden`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from flowpipe_compiler.diagnostics import CODES

from .conftest import Outcome

CASES = Path(__file__).parent / "cases"
UPDATE = os.environ.get("FLOWPIPE_UPDATE_GOLDEN") == "1"


def _cases(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if p.is_dir())


def _input(case: Path) -> str:
    (name,) = [p.name for p in case.iterdir() if p.is_file() and not p.name.startswith("expected")]
    return name


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run: make golden"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", _cases("valid"), ids=lambda p: p.name)
def test_valid(
    case: Path, flowpipe: Callable[..., Outcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case)
    result = flowpipe("validate", "--root", ".", _input(case))
    assert result.code == 0, result.out
    if (case / "expected.txt").exists() or "warning" in result.out:
        _compare(case / "expected.txt", result.out)
    spec = flowpipe("spec", "--root", ".", _input(case))
    assert spec.code == 0
    if (case / "expected.yaml").exists() or UPDATE:
        _compare(case / "expected.yaml", spec.out)


@pytest.mark.parametrize("case", _cases("invalid"), ids=lambda p: p.name)
def test_invalid(
    case: Path, flowpipe: Callable[..., Outcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case)
    result = flowpipe("validate", "--root", ".", _input(case))
    assert result.code == 1, result.out
    assert "Traceback" not in result.out + result.err
    _compare(case / "expected.txt", result.out)


# Codes whose inputs cannot live in a case folder, each with its own test: test_source.py and
# test_cli.py (huge, undecodable, unreadable and missing files), tests/registry (registry
# problems, reported by `flowpipe schema check`), tests/render (overlays and rendering).
_TESTED_ELSEWHERE = {
    *("FP003", "FP006", "FP007", "FP008", "FP009"),
    *("FP410", "FP411", "FP412", "FP413", "FP501", "FP502"),
}


def test_every_code_has_a_case() -> None:
    seen = set()
    for case in _cases("valid") + _cases("invalid"):
        expected = case / "expected.txt"
        if expected.exists():
            text = expected.read_text(encoding="utf-8")
            seen |= {code for code in CODES if f"[{code}]" in text}
    missing = set(CODES) - seen - _TESTED_ELSEWHERE
    assert not missing, f"codes without a case folder: {sorted(missing)}"
