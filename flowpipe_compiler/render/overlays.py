"""Environment overlays: ``overlays/<env>/overlay.yaml``, checked like flows (located errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowpipe_compiler import schema_check, schemas, semantics, source
from flowpipe_compiler.check import FileResult, display
from flowpipe_compiler.diagnostics import Diagnostic, Severity, SourceError
from flowpipe_compiler.findings import Findings, did_you_mean
from flowpipe_compiler.render.kustomize import Overlay

DIRECTORY = "overlays"
FILE = "overlay.yaml"


def available(root: Path) -> list[str]:
    directory = root / DIRECTORY
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if (p / FILE).is_file())


def load(
    root: Path, names: list[str], specs: dict[str, dict[str, Any]]
) -> tuple[list[Overlay], list[FileResult]]:
    overlays, results = [], []
    for name in names:
        path = root / DIRECTORY / name / FILE
        shown = display(path)
        if not path.is_file() or not path.resolve().is_relative_to(root.resolve()):
            known = ", ".join(available(root)) or "none"
            results.append(
                FileResult(
                    shown,
                    [
                        Diagnostic(
                            "FP008",
                            Severity.ERROR,
                            f"no overlay for environment '{name}'",
                            shown,
                            None,
                            hint=f"create {DIRECTORY}/{name}/{FILE}; environments here: {known}",
                        )
                    ],
                )
            )
            continue
        result = FileResult(shown)
        results.append(result)
        try:
            result.text = source.decode(shown, path.read_bytes())
            doc = source.load(shown, result.text)
        except SourceError as exc:
            result.diagnostics.append(
                Diagnostic(
                    exc.code, Severity.ERROR, exc.message, shown, exc.location, hint=exc.hint
                )
            )
            continue
        data = doc.data if doc.data is not None else {}
        findings = Findings(doc)
        schema_check.report(
            findings,
            schemas.validator(schemas.OVERLAY_SCHEMA),
            schemas.load(schemas.OVERLAY_SCHEMA),
            data,
        )
        if not findings.has_errors:
            _targets(findings, data, specs)
        result.diagnostics = findings.items
        if not findings.has_errors:
            overlays.append(
                Overlay(
                    name,
                    data.get("namespace"),
                    data.get("image"),
                    data.get("flows", {}),
                    data.get("patches", []),
                )
            )
    return overlays, results


def _targets(findings: Findings, data: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    for flow, overrides in data.get("flows", {}).items():
        semantics.no_clear_passwords(
            findings,
            [(("flows", flow, "env", k), v) for k, v in overrides.get("env", {}).items()],
        )
        spec = specs.get(flow)
        if spec is None:
            findings.add(
                "FP501",
                f"overlay names flow '{flow}', which is not in flows/",
                ("flows", flow),
                at_key=True,
                hint=did_you_mean(flow, specs) or f"flows here: {', '.join(sorted(specs))}",
            )
            continue
        for key in ("stages", "queues"):
            known = {item["name"] for item in spec[key]}
            for name in overrides.get(key, {}):
                if name not in known:
                    noun = key[:-1]
                    findings.add(
                        "FP501",
                        f"flow '{flow}' has no {noun} '{name}'",
                        ("flows", flow, key, name),
                        at_key=True,
                        hint=did_you_mean(name, known) or f"{key}: {', '.join(sorted(known))}",
                    )
