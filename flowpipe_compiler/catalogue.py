"""The stage catalogue: what each stage type is, and checking stages against it.

The catalogue is data (``schemas/stage-catalogue.json``), shared with the runtime, so a
stage's kind, wiring and config are checked at compile time rather than in a pod at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from flowpipe_compiler import schema_check, schemas
from flowpipe_compiler.diagnostics import Severity
from flowpipe_compiler.findings import Findings, did_you_mean

Kind = Literal["source", "transform", "sink"]


@dataclass(frozen=True, slots=True)
class StageType:
    name: str
    kind: Kind
    description: str
    config: dict[str, Any]
    env_settings: dict[str, str]


@cache
def types() -> dict[str, StageType]:
    return {
        name: StageType(
            name,
            entry["kind"],
            entry["description"],
            entry["config"],
            entry.get("env_settings", {}),
        )
        for name, entry in schemas.load(schemas.CATALOGUE)["stages"].items()
    }


def inferred_kind(stage: dict[str, Any]) -> Kind:
    """Kind of a stage whose type the catalogue does not know, read from its wiring."""
    if "input_queue" not in stage:
        return "source"
    if "output_queue" not in stage:
        return "sink"
    return "transform"


def check_stages(findings: Findings, flow: dict[str, Any]) -> dict[int, Kind]:
    """Check each stage's type and config; return the kind of every well-formed stage."""
    known = types()
    kinds: dict[int, Kind] = {}
    env: dict[str, Any] = flow["env"] if isinstance(flow.get("env"), dict) else {}
    for index, stage in enumerate(flow.get("stages") or []):
        if not isinstance(stage, dict) or not isinstance(stage.get("type"), str):
            continue
        path = ("stages", index)
        stage_type = known.get(stage["type"])
        if stage_type is None:
            kinds[index] = inferred_kind(stage)
            if isinstance(stage.get("plugin"), str):
                findings.warn(
                    "FP302",
                    f"stage type '{stage['type']}' comes from plugin '{stage['plugin']}'; "
                    "its config is checked only at run time",
                    (*path, "type"),
                )
            else:
                hint = did_you_mean(stage["type"], known)
                findings.add(
                    "FP301",
                    f"unknown stage type '{stage['type']}'",
                    (*path, "type"),
                    hint=(hint + " " if hint else "")
                    + "known types: "
                    + ", ".join(sorted(known))
                    + "; set 'plugin' for a type from an external plugin",
                )
            continue
        kinds[index] = stage_type.kind
        config = stage.get("config", {})
        if isinstance(config, dict):
            schema_check.report(
                findings,
                schemas.config_validator(stage_type.name),
                stage_type.config,
                config,
                prefix=(*path, "config"),
                code_for_all="FP303",
            )
            _unset_settings(findings, stage_type, config, env, path)
    return kinds


def _unset_settings(
    findings: Findings,
    stage_type: StageType,
    config: dict[str, Any],
    env: dict[str, Any],
    path: tuple[str | int, ...],
) -> None:
    for setting, variable in sorted(stage_type.env_settings.items()):
        if setting in config or variable in env:
            continue
        findings.add(
            "FP304",
            f"'{setting}' is not set; the runtime will read it from ${variable}",
            path,
            hint=f"set config.{setting}, or make sure ${variable} is set where the flow runs",
            severity=Severity.WARNING,
        )
