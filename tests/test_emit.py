"""The YAML writer: what it writes reads back as the same data, with any YAML reader."""

from __future__ import annotations

import string
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpipe_compiler import emit, source

TRICKY = [
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "~",
    "null",
    "1.0",
    "010",
    "0x1f",
    "1e3",
    ".inf",
    "2001-12-14",
    "1:20",
    "- a",
    "a: b",
    "a #b",
    "#x",
    "*x",
    "&x",
    "!x",
    "|",
    ">",
    "'",
    '"',
    "%x",
    "@x",
    "`x",
    "",
    " lead",
    "trail ",
    "two\nlines",
    "tab\there",
    "{}",
    "[]",
    "---",
    "...",
    "✓ unicode",
    "\x00",
]
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(TRICKY)
    | st.text(string.printable + "é✓", max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(TRICKY) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)


@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
@settings(max_examples=400, deadline=None)
def test_round_trip_with_our_loader_and_with_libyaml(data: dict[str, Any]) -> None:
    text = emit.to_yaml(data)
    assert source.load("t.yaml", text).data == data
    assert yaml.load(text, Loader=yaml.CSafeLoader) == data  # YAML 1.1 reader, as Go's


def test_layout() -> None:
    expected = 'a: {}\nb:\n- 1\n- x: []\n  "y": "yes"\n'  # y, yes: booleans in YAML 1.1
    assert emit.to_yaml({"b": [1, {"y": "yes", "x": []}], "a": {}}) == expected
