"""The bounded loader: positions, YAML 1.2 scalars, limits, hostile input."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpipe_compiler import source
from flowpipe_compiler.check import check_bytes
from flowpipe_compiler.diagnostics import Location, SourceError

HERE = Path(__file__).parent


def load(text: str) -> source.Document:
    return source.load("f.yaml", text)


def test_positions_of_values_and_keys() -> None:
    doc = load("name: demo\nstages:\n  - name: src\n    type: noop_source\n")
    assert doc.values[("name",)] == Location(1, 7, 11)
    assert doc.keys[("stages", 0, "type")] == Location(4, 5, 9)
    assert doc.values[("stages", 0, "type")] == Location(4, 11, 22)
    # an unknown deeper path falls back to its nearest located ancestor
    assert doc.locate(("stages", 0, "type", "x")) == Location(4, 11, 22)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("on", "on"),
        ("no", "no"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("", None),
        ("010", 10),
        ("0o10", 8),
        ("0x1f", 31),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".inf", float("inf")),
        ("'1'", "1"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("!!float 1", 1.0),
        ("1_000", "1_000"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: Any) -> None:
    assert load(f"v: {text}\n").data == {"v": value}


def test_aliases_share_and_merge_keys_apply() -> None:
    doc = load("a: &x {k: 1, j: 2}\nb: *x\nc:\n  <<: *x\n  k: 3\n")
    assert doc.data == {"a": {"k": 1, "j": 2}, "b": {"k": 1, "j": 2}, "c": {"k": 3, "j": 2}}


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    with pytest.raises(SourceError) as caught:
        load("\n".join(lines) + "\n")
    assert caught.value.code == "FP007"
    assert caught.value.location.line > 1


def test_an_alias_cannot_refer_to_its_own_container() -> None:
    with pytest.raises(SourceError) as caught:
        load("a: &x [1, *x]\n")
    assert caught.value.code == "FP001"


def test_depth_limit() -> None:
    deep = "[" * (source.MAX_DEPTH + 1) + "]" * (source.MAX_DEPTH + 1)
    with pytest.raises(SourceError) as caught:
        load(f"v: {deep}\n")
    assert caught.value.code == "FP007"
    assert load(f"v: {'[' * 10}{']' * 10}\n").data is not None


def test_very_deep_nesting_neither_recurses_nor_hangs() -> None:
    result = check_bytes("deep.yaml", b"v: " + b"[" * 100_000, "deep", HERE)
    assert [d.code for d in result.diagnostics] in (["FP007"], ["FP001"])


def test_size_limit() -> None:
    raw = b"name: x\n" + b"#" * source.MAX_FILE_BYTES
    result = check_bytes("big.yaml", raw, "big", HERE)
    assert [d.code for d in result.diagnostics] == ["FP006"]


def test_non_utf8_is_located_at_the_bad_byte() -> None:
    result = check_bytes("latin.yaml", b"name: demo\nlabels:\n  x: caf" + b"\xe9\n", "x", HERE)
    (diagnostic,) = result.diagnostics
    assert diagnostic.code == "FP003"
    assert diagnostic.location == Location(3, 9)


def test_a_bom_is_accepted() -> None:
    assert load(source.decode("f", b"\xef\xbb\xbfv: 1\n")).data == {"v": 1}


def test_non_scalar_keys_are_refused() -> None:
    with pytest.raises(SourceError) as caught:
        load("? [a, b]\n: 1\n")
    assert caught.value.code == "FP001"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(string.printable),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(string.ascii_letters + "_-", min_size=1), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_json_text_loads_back_to_the_same_data(value: Any) -> None:
    text = orjson.dumps({"v": value}).decode()
    assert load(text).data == {"v": value}


VALID = (
    b"name: demo\nstages:\n  - name: src\n    type: noop_source\n    output_queue: q\n"
    b"  - name: sink\n    type: stdout_sink\n    input_queue: q\nqueues:\n  - name: q\n"
)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_flows_give_located_findings_never_a_crash(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        at = data.draw(st.integers(0, len(raw)))
        if action == "flip" and at < len(raw):
            raw[at] = data.draw(st.sampled_from(b" :-[]{}&*!|>'\"\t\n#x0\xff"))
        elif action == "insert":
            raw[at:at] = data.draw(st.sampled_from([b": ", b"- ", b"\n  ", b"&a ", b"*a", b"!!x "]))
        else:
            del raw[at : at + data.draw(st.integers(1, 5))]
    result = check_bytes("m.yaml", bytes(raw), "m", HERE)
    for diagnostic in result.diagnostics:
        assert diagnostic.location is not None
        assert diagnostic.location.line >= 1 and diagnostic.location.col >= 1
    assert (result.spec is None) == (result.errors > 0)


def test_only_a_plain_merge_key_merges() -> None:
    assert source.load("t.yaml", '"<<": []\nb: 2\n').data == {"<<": [], "b": 2}
    assert source.load("t.yaml", "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n").data["m"] == {
        "x": 1,
        "y": 2,
    }


def test_a_key_with_an_escaped_nul_is_just_a_key() -> None:
    assert source.load("t.yaml", '"\\0<<": []\n').data == {"\x00<<": []}
