"""The registry as users drive it: `flowpipe schema ...` and flows that refer to schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Outcome, git

Run = Callable[..., Outcome]
V1 = {"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": False}
V2_OK = {**V1, "properties": {"id": {"type": "integer"}, "note": {"type": "string"}}}
V2_BREAKING = {**V1, "properties": {"id": {"type": "string"}}}
FLOW = (
    "name: demo\nstages:\n  - {name: src, type: noop_source, output_queue: q}\n"
    "  - {name: sink, type: stdout_sink, input_queue: q}\n"
    "queues:\n  - name: q\n    schema: {schema_id: order}\n"
)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "schemas").rglob("*"))
        if p.is_file()
    }


def create(
    flowpipe: Run, root: Path, body: object, *args: str, schema_id: str = "order"
) -> Outcome:
    path = root / "new.json"
    path.write_text(json.dumps(body))
    return flowpipe("schema", "create", schema_id, "--format", "JSON", "--file", str(path), *args)


def test_create_list_get_activate(repo: Path, flowpipe: Run) -> None:
    assert create(flowpipe, repo, V1).code == 0
    assert (repo / "schemas/order/v1.json").exists()
    assert (repo / "schemas/order/schema.yaml").read_text() == "active: 1\nformat: JSON\n"
    result = create(flowpipe, repo, V2_OK, "--no-activate")
    assert result.code == 0
    listed = json.loads(flowpipe("schema", "list", "--json").out)
    assert listed == [
        {
            "schema_id": "order",
            "format": "JSON",
            "compatibility": "BACKWARD",
            "active": 1,
            "versions": [1, 2],
            "deprecated": False,
            "valid": True,
        }
    ]
    assert json.loads(flowpipe("schema", "get", "order").out) == V1
    assert json.loads(flowpipe("schema", "get", "order", "2").out) == V2_OK
    assert flowpipe("schema", "activate", "order", "2").code == 0
    assert json.loads(flowpipe("schema", "get", "order", "0").out) == V2_OK
    missing = flowpipe("schema", "activate", "order", "7")
    assert missing.code == 1 and "has no version 7" in missing.err


def test_a_breaking_create_writes_nothing(repo: Path, flowpipe: Run) -> None:
    create(flowpipe, repo, V1)
    before = snapshot(repo)
    result = create(flowpipe, repo, V2_BREAKING)
    assert result.code == 1
    assert "breaks BACKWARD compatibility; nothing was written" in result.err
    assert "TYPE_CHANGED" in result.err and "/properties/id" in result.err
    assert snapshot(repo) == before
    assert create(flowpipe, repo, V2_BREAKING, "--compatibility", "NONE").code == 0


@pytest.mark.parametrize(
    ("schema_id", "fmt", "body", "message"),
    [
        ("../escape", "JSON", b"{}", "not a valid schema id"),
        ("/abs", "JSON", b"{}", "not a valid schema id"),
        ("order", "JSON", b'{"type": ', "at line 1, column 10: invalid JSON"),
        ("order", "JSON", b'{"type": "integr"}', "not a valid JSON Schema"),
        ("order", "JSON", b'{"$ref": "https://example.com/s.json"}', "points outside this schema"),
        ("order", "JSON", b'{"$ref": "../other/v1.json"}', "points outside this schema"),
        (
            "order",
            "AVRO",
            b'{"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]}',
            "not a valid Avro schema",
        ),
        ("order", "PROTOBUF", b"syntax = 'proto3';\nmessage A {\n", "unclosed"),
        ("order", "FLATBUFFERS", b"namespace x;\n", "no table or struct definition"),
    ],
)
def test_bad_input_is_refused_and_leaves_the_tree_untouched(
    repo: Path, flowpipe: Run, schema_id: str, fmt: str, body: bytes, message: str
) -> None:
    (repo / "schemas").mkdir()
    path = repo / "body"
    path.write_bytes(body)
    result = flowpipe("schema", "create", schema_id, "--format", fmt, "--file", str(path))
    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err
    assert snapshot(repo) == {}
    assert not (repo / "escape").exists()


def test_other_formats_are_stored_and_versioned(repo: Path, flowpipe: Run) -> None:
    avro = repo / "r.avsc"
    avro.write_text('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}')
    assert flowpipe("schema", "create", "rec", "--format", "AVRO", "--file", str(avro)).code == 0
    proto = repo / "m.proto"
    proto.write_text('syntax = "proto3";\nmessage M { int64 id = 1; }\n')
    assert (
        flowpipe("schema", "create", "msg", "--format", "PROTOBUF", "--file", str(proto)).code == 0
    )
    assert (repo / "schemas/rec/v1.avsc").exists() and (repo / "schemas/msg/v1.proto").exists()
    assert flowpipe("schema", "check").code == 0


def test_delete_is_refused_while_a_flow_uses_the_schema(repo: Path, flowpipe: Run) -> None:
    create(flowpipe, repo, V1)
    (repo / "flows").mkdir()
    (repo / "flows/demo.yaml").write_text(FLOW)
    refused = flowpipe("schema", "delete", "order")
    assert refused.code == 1
    assert "used by flows/demo.yaml" in refused.err
    (repo / "flows/demo.yaml").unlink()
    assert flowpipe("schema", "delete", "order").code == 0
    assert not (repo / "schemas/order").exists()


def test_flows_embed_the_resolved_version_and_follow_the_active_one(
    repo: Path, flowpipe: Run
) -> None:
    create(flowpipe, repo, V1)
    (repo / "flows").mkdir()
    (repo / "flows/demo.yaml").write_text(FLOW)
    first = json.loads(flowpipe("spec", "--json", "flows/demo.yaml").out)
    schema = first["queues"][0]["schema"]
    assert (schema["version"], schema["registry_format"], schema["body"]) == (1, "JSON", V1)
    create(flowpipe, repo, V2_OK)
    second = json.loads(flowpipe("spec", "--json", "flows/demo.yaml").out)
    assert second["queues"][0]["schema"]["version"] == 2
    assert second != first  # a new active version changes the spec, so pods restart


def test_schema_check_reports_every_problem_with_its_place(repo: Path, flowpipe: Run) -> None:
    order = repo / "schemas/order"
    order.mkdir(parents=True)
    (order / "schema.yaml").write_text("format: JSON\nactive: 3\ncompatability: FULL\n")
    gaps = repo / "schemas/gaps"
    gaps.mkdir()
    (gaps / "schema.yaml").write_text("format: JSON\nactive: 1\n")
    (gaps / "v1.json").write_text(json.dumps(V1))
    (gaps / "v3.json").write_text(json.dumps(V1))
    edited = repo / "schemas/edited"
    edited.mkdir()
    (edited / "schema.yaml").write_text("format: JSON\nactive: 2\n")
    (edited / "v1.json").write_text(json.dumps(V1))
    (edited / "v2.json").write_text(json.dumps(V2_BREAKING))
    broken = repo / "schemas/broken"
    broken.mkdir()
    (broken / "schema.yaml").write_text("format: JSON\nactive: 1\n")
    (broken / "v1.json").write_text('{"type": [}')
    result = flowpipe("schema", "check")
    assert result.code == 1
    out = result.out
    assert "schemas/order/schema.yaml:3:1: error[FP100]: unknown field 'compatability'" in out
    assert "did you mean 'compatibility'?" in out
    assert "schemas/gaps: error[FP410]: versions of 'gaps' are [1, 3]" in out
    assert "schemas/edited/v2.json: error[FP412]: v2 breaks BACKWARD compatibility" in out
    assert "schemas/broken/v1.json:1:11: error[FP411]: invalid JSON" in out
    sarif = json.loads(flowpipe("schema", "check", "--format", "sarif").out)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {
        "FP100",
        "FP410",
        "FP411",
        "FP412",
    }


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flowpipe: Run) -> Path:
    """A git repository whose commit publishes order v1 and v2."""
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q")
    create(flowpipe, tmp_path, V1)
    create(flowpipe, tmp_path, V2_OK)
    (tmp_path / "new.json").unlink()
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "publish order")
    return tmp_path


def test_untouched_published_versions_pass(published: Path, flowpipe: Run) -> None:
    assert flowpipe("schema", "check").code == 0
    assert flowpipe("schema", "check", "--against", "HEAD").code == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("edit", "published version schemas/order/v1.json was edited (compared with HEAD)"),
        ("delete", "published version schemas/order/v2.json was deleted"),
        ("renumber", "published version schemas/order/v2.json was renumbered to v3.json"),
    ],
)
def test_changes_to_published_versions_fail(
    published: Path, flowpipe: Run, change: str, expected: str
) -> None:
    order = published / "schemas/order"
    if change == "edit":
        (order / "v1.json").write_text(json.dumps({**V1, "title": "same meaning, new bytes"}))
    elif change == "delete":
        (order / "v2.json").unlink()
        (order / "schema.yaml").write_text("active: 1\nformat: JSON\n")
    else:
        (order / "v2.json").rename(order / "v3.json")
    result = flowpipe("schema", "check")
    assert result.code == 1
    assert expected in result.out
    assert "error[FP413]" in result.out


def test_a_missing_base_ref_is_a_clear_usage_error(published: Path, flowpipe: Run) -> None:
    result = flowpipe("schema", "check", "--against", "origin/does-not-exist")
    assert result.code == 2
    assert "no such commit in this clone" in result.err
    assert "git fetch" in result.err


def test_the_base_defaults_to_the_merge_base_with_origin_main(
    published: Path, flowpipe: Run
) -> None:
    git(published, "update-ref", "refs/remotes/origin/main", "HEAD")
    (published / "schemas/order/v1.json").write_text("{}")
    git(published, "commit", "-qam", "edit a published version")
    result = flowpipe("schema", "check")
    assert result.code == 1
    assert "was edited (compared with merge base with origin/main)" in result.out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json.dumps({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}), "$ref cycle"),
        (
            json.dumps(
                {
                    "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                    "properties": {"x": {"$ref": "#/$defs/a"}},
                }
            ),
            "$ref cycle",
        ),
        ('{"items":' * 5000 + "{}" + "}" * 5000, "invalid JSON"),
        (json.dumps({"description": "x" * (1024 * 1024)}), "larger than the 1,048,576-byte limit"),
    ],
    ids=["self-loop", "two-step-loop", "deeply-nested", "huge"],
)
def test_hostile_schemas_are_refused(repo: Path, flowpipe: Run, body: str, message: str) -> None:
    path = repo / "s.json"
    path.write_text(body)
    result = flowpipe("schema", "create", "x", "--format", "JSON", "--file", str(path))
    assert result.code == 1
    assert message in result.err


def test_recursive_schemas_through_properties_are_fine(repo: Path, flowpipe: Run) -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            }
        },
        "$ref": "#/$defs/node",
    }
    assert create(flowpipe, repo, tree).code == 0


def test_a_version_file_symlinked_out_of_the_repo_is_refused(
    repo: Path, flowpipe: Run, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.json"
    outside.write_text(json.dumps(V1))
    folder = repo / "schemas/order"
    folder.mkdir(parents=True)
    (folder / "schema.yaml").write_text("format: JSON\nactive: 1\n")
    (folder / "v1.json").symlink_to(outside)
    result = flowpipe("schema", "check")
    assert result.code == 1
    assert (
        "schemas/order/v1.json: error[FP410]: 'v1.json' is a symlink out of the repository root"
        in result.out
    )


def test_metadata_schema_names_the_formats_and_modes_the_code_knows() -> None:
    from flowpipe_compiler import schemas
    from flowpipe_compiler.registry.compat import Mode
    from flowpipe_compiler.registry.formats import EXTENSIONS

    properties = schemas.load(schemas.REGISTRY_METADATA_SCHEMA)["properties"]
    assert properties["format"]["enum"] == list(EXTENSIONS)
    assert properties["compatibility"]["enum"] == [mode.value for mode in Mode]
