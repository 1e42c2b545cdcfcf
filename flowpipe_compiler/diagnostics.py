"""What a check finds: located diagnostics, their codes, and the errors that carry them.

Every finding names a file, a 1-based line and column, the JSON path of the node it is about,
a breadcrumb a person can follow ("stage 'parser' > config > delimiter") and, where we can
tell, what to do. Codes are stable: reporters, SARIF rules and the docs all read ``CODES``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """1-based line and column; ``end_col`` when the node ends on the same line."""

    line: int
    col: int
    end_col: int | None = None


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    name: str
    summary: str


def _codes(*rows: tuple[str, str, str]) -> dict[str, Code]:
    return {code: Code(code, name, summary) for code, name, summary in rows}


CODES: dict[str, Code] = _codes(
    # Reading the file
    ("FP001", "yaml-syntax", "The file is not valid YAML or JSON."),
    ("FP002", "duplicate-key", "A mapping holds the same key twice."),
    ("FP003", "not-utf8", "The file is not UTF-8 text."),
    ("FP004", "not-a-mapping", "The top level of a flow file must be a mapping."),
    ("FP005", "empty-file", "The file holds no flow."),
    ("FP006", "file-too-large", "The file exceeds the size limit."),
    ("FP007", "document-too-complex", "Nesting depth or alias expansion exceeds the limits."),
    ("FP008", "unreadable", "The path cannot be read, or leaves the repository root."),
    ("FP009", "no-flows", "A directory holds no flow files."),
    ("FP010", "tab-indent", "A tab character is used for indentation."),
    ("FP012", "unsupported-tag", "A YAML tag other than the core schema's is used."),
    ("FP013", "multiple-documents", "A flow file holds more than one YAML document."),
    # The flow schema
    ("FP100", "unknown-field", "A field that the flow spec does not define."),
    ("FP101", "wrong-type", "A value of the wrong type."),
    ("FP102", "missing-field", "A required field is missing."),
    ("FP103", "bad-enum", "A value that is not one of the allowed names."),
    ("FP104", "out-of-range", "A number or a length outside its bounds."),
    ("FP105", "bad-format", "A string that does not match the required pattern."),
    ("FP199", "schema-violation", "Another violation of the flow schema."),
    # Meaning
    (
        "FP201",
        "bad-flow-name",
        "The flow name is not a DNS-1123 label (it names Kubernetes objects).",
    ),
    ("FP202", "bad-name", "A stage or queue name is not a safe identifier."),
    ("FP203", "duplicate-stage", "Two stages share a name."),
    ("FP204", "duplicate-queue", "Two queues share a name."),
    ("FP205", "no-stages", "The flow has no stages."),
    ("FP206", "missing-type", "A stage has no type."),
    ("FP207", "bad-threads", "A stage's thread count is out of range."),
    ("FP208", "unknown-queue", "A stage refers to a queue that is not defined."),
    ("FP209", "queue-without-producer", "No stage writes to a queue."),
    ("FP210", "queue-without-consumer", "No stage reads from a queue."),
    ("FP211", "cycle", "Stages and queues form a cycle."),
    ("FP212", "source-with-input", "A source stage has an input queue."),
    ("FP213", "sink-with-output", "A sink stage has an output queue."),
    ("FP214", "cron-not-job", "A cron schedule on a flow that is not a job."),
    ("FP215", "bad-cron", "A cron schedule or time zone that Kubernetes would refuse."),
    ("FP216", "daemonset-not-streaming", "A DaemonSet workload on a job flow."),
    ("FP217", "unknown-pinned-stage", "cpu_pinning names a stage that does not exist."),
    ("FP218", "missing-queue", "A stage lacks the input or output queue its kind needs."),
    # Schema registry
    ("FP401", "unknown-schema", "A queue refers to a schema id the registry does not hold."),
    ("FP402", "unknown-schema-version", "A queue refers to a version the schema does not have."),
    ("FP403", "deprecated-schema", "A queue uses a schema marked deprecated."),
    ("FP410", "bad-registry-entry", "A registry folder, metadata file or version file is invalid."),
    ("FP411", "bad-schema-body", "A schema version does not parse or fails its format's checks."),
    ("FP412", "incompatible-version", "A version breaks its schema's compatibility mode."),
    (
        "FP413",
        "published-version-changed",
        "A published version was edited, deleted or renumbered.",
    ),
    # Rendering
    (
        "FP501",
        "unknown-overlay-target",
        "An overlay names a flow, stage or queue that does not exist.",
    ),
    ("FP502", "not-renderable", "A flow that Kubernetes would refuse as written."),
    # Stage catalogue
    ("FP301", "unknown-stage-type", "A stage type that no catalogue entry or plugin provides."),
    ("FP302", "plugin-stage-type", "A stage type provided by an external plugin: not checked."),
    ("FP303", "bad-stage-config", "A stage config value its type's schema rejects."),
    (
        "FP304",
        "unset-stage-setting",
        "A setting left to a run-time default or environment variable.",
    ),
    ("FP305", "credentials-in-clear", "A password written into a URL in env or a config."),
    ("FP306", "env-conflict", "A variable set both in env and in secret_env."),
)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    file: str
    location: Location | None
    json_path: str = "$"
    breadcrumb: str = ""
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        loc = self.location
        return {
            "code": self.code,
            "rule": CODES[self.code].name,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": loc.line if loc else None,
            "column": loc.col if loc else None,
            "end_column": loc.end_col if loc else None,
            "json_path": self.json_path,
            "breadcrumb": self.breadcrumb,
            "hint": self.hint,
        }


class FlowpipeError(Exception):
    """Base of the errors a user can cause; the CLI prints them as one clear line."""

    exit_code = 1


class UsageError(FlowpipeError):
    exit_code = 2


class SourceError(Exception):
    """A problem found while reading one file: becomes one located diagnostic."""

    def __init__(
        self, code: str, message: str, location: Location, *, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location
        self.hint = hint


def json_path(path: Path) -> str:
    """``("stages", 1, "config")`` -> ``$.stages[1].config`` (quoted where a key needs it)."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.isidentifier():
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)
