"""Generate what derives from the flow schema: the compiled-spec schema and the reference docs.

``python -m flowpipe_compiler.docgen`` rewrites them; ``--check`` exits 1 when either is
stale (a test runs it). Nothing here is hand-copied from the schema.
"""

from __future__ import annotations

import copy
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from flowpipe_compiler import catalogue, schemas, source
from flowpipe_compiler.diagnostics import CODES
from flowpipe_compiler.emit import to_json
from flowpipe_compiler.normalize import FORMAT_VERSION

DOC = Path("docs/flow-spec.md")


def compiled_schema() -> dict[str, Any]:
    """The compiled spec's schema: canonical enums only, defaulted fields required."""
    flow = schemas.load(schemas.FLOW_SCHEMA)
    out: dict[str, Any] = copy.deepcopy(flow)
    out["$id"] = "https://flowpipe.dev/schemas/compiled-flow.schema.json"
    out["title"] = "flowpipe compiled flow"
    out["description"] = (
        "A flow as the compiler hands it to the runtime: defaults filled, enums canonical, "
        "each stage's kind resolved. Generated from flow.schema.json; do not edit."
    )

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        canonical = node.pop("x-flowpipe-canonical", None)
        if canonical is not None:
            node["enum"] = sorted(set(canonical.values()))
        if node.pop("x-flowpipe-zero-means-default", False):
            node["minimum"] = 1
        properties = node.get("properties")
        if isinstance(properties, dict):
            defaulted = [
                key
                for key, sub in properties.items()
                if isinstance(sub, dict) and "default" in schemas.resolve(flow, sub)
            ]
            if defaulted:
                node["required"] = sorted(set(node.get("required", [])) | set(defaulted))
        for value in node.values():
            walk(value)

    walk(out)
    out["properties"]["format_version"] = {
        "const": FORMAT_VERSION,
        "description": "Version of this format; the runtime refuses one it does not know.",
    }
    out["required"] = sorted({*out["required"], "format_version", "name"})
    stage = out["$defs"]["Stage"]
    stage["properties"]["kind"] = {
        "enum": ["sink", "source", "transform"],
        "description": "The stage's kind, from the stage catalogue or (plugins) its wiring.",
    }
    stage["required"] = sorted({*stage["required"], "kind"})
    queue_schema = out["$defs"]["QueueSchema"]
    queue_schema["properties"]["version"]["minimum"] = 1
    queue_schema["properties"]["version"]["description"] = "The resolved registry version."
    queue_schema["properties"]["registry_format"] = {
        "enum": ["AVRO", "FLATBUFFERS", "JSON", "PARQUET", "PROTOBUF"],
        "description": "Storage format of the registry schema (schemas/<id>/schema.yaml).",
    }
    queue_schema["properties"]["body"] = {
        "description": "The schema itself: JSON data for JSON Schema and Avro, text otherwise."
    }
    queue_schema["required"] = sorted(
        {*queue_schema["required"], "version", "registry_format", "body"}
    )
    return out


def _type(node: dict[str, Any], root: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        target = root["$defs"][name]
        if "x-flowpipe-canonical" in target:
            return "enum: " + ", ".join(
                f"`{v}`" for v in sorted(set(target["x-flowpipe-canonical"].values()))
            )
        if target.get("type") == "object" and "properties" in target:
            return f"[{name}](#{name.lower()})"
        return _type({k: v for k, v in target.items() if k != "description"}, root)
    if "enum" in node:
        return "enum: " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = str(node.get("type", "any"))
    if kind == "array":
        return f"list of {_type(node.get('items', {}), root)}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of string to {_type(node['additionalProperties'], root)}"
    bounds = []
    if "minimum" in node and node["minimum"] != 0:
        bounds.append(f">= {node['minimum']}")
    if "maximum" in node and node["maximum"] < 2**31:
        bounds.append(f"<= {node['maximum']}")
    if "maxLength" in node:
        bounds.append(f"at most {node['maxLength']} chars")
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(node: dict[str, Any], root: dict[str, Any]) -> list[str]:
    required = set(node.get("required", []))
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for key, sub in node.get("properties", {}).items():
        resolved = schemas.resolve(root, sub)
        default = (
            f"`{resolved['default']}`"
            if "default" in resolved and resolved["default"] not in ({}, [])
            else ""
        )
        name = f"`{key}`" + (" (required)" if key in required else "")
        description = sub.get("description") or resolved.get("description", "")
        rows.append(
            f"| {name} | {_cell(_type(sub, root))} | {_cell(default)} | {_cell(description)} |"
        )
    return rows


def flow_spec_markdown() -> str:
    root = schemas.load(schemas.FLOW_SCHEMA)
    out = [
        "# Flow spec reference",
        "",
        "<!-- Generated from flowpipe_compiler/schemas/flow.schema.json by `make generate`."
        " Do not edit. -->",
        "",
        root["description"],
        "",
        "Editors: put `# yaml-language-server: $schema=<path>` at the top of a flow file,",
        "with the path of `flowpipe_compiler/schemas/flow.schema.json`.",
        "Flows are YAML (1.2 core schema) or JSON, one flow per file;",
        "a flow without `name` takes its file name's stem. Enum values may be written in full",
        "(`EXECUTION_MODE_JOB`) or short (`job`); the compiled spec always uses the full name.",
        "",
        "## Flow",
        "",
        *_table(root, root),
    ]
    for name, node in root["$defs"].items():
        if node.get("type") == "object" and "properties" in node:
            out += ["", f"## {name}", "", node.get("description", ""), "", *_table(node, root)]
    out += ["", "## Stage catalogue", "", "Built-in stage types and their `config`.", ""]
    for stage_type in catalogue.types().values():
        out += [f"### `{stage_type.name}` ({stage_type.kind})", "", stage_type.description, ""]
        if stage_type.config.get("properties"):
            out += _table(stage_type.config, stage_type.config)
        else:
            out.append("No settings.")
        for setting, variable in sorted(stage_type.env_settings.items()):
            out.append(f"\n`{setting}` may be left out: the runtime then reads `${variable}`.")
        out.append("")
    out += [
        "## Limits",
        "",
        f"- A flow file is at most {source.MAX_FILE_BYTES:,} bytes.",
        f"- Mappings and sequences nest at most {source.MAX_DEPTH} levels deep.",
        f"- A document holds at most {source.MAX_NODES:,} nodes with aliases expanded.",
        "",
        "## Diagnostic codes",
        "",
        "| code | rule | meaning |",
        "|---|---|---|",
        *(f"| {c.code} | `{c.name}` | {c.summary} |" for c in CODES.values()),
        "",
    ]
    return "\n".join(out)


def outputs() -> dict[Path, str]:
    package = Path(str(files("flowpipe_compiler.schemas")))
    return {
        package / schemas.COMPILED_SCHEMA: to_json(compiled_schema()),
        DOC: flow_spec_markdown(),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        verb = "stale" if check else "wrote"
        print(f"{verb}: {path}" + (" (run: make generate)" if check else ""))
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
