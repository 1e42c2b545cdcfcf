"""Properties over large input spaces: cron schedules and enum spellings."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flowpipe_compiler import cron, schemas
from flowpipe_compiler.check import check_bytes

FIELD_BOUNDS = [(f.low, f.high) for f in cron.FIELDS]


@st.composite
def cron_item(draw: st.DrawFn, low: int, high: int) -> str:
    kind = draw(st.sampled_from(["star", "value", "range", "step"]))
    if kind == "star":
        return "*"
    a = draw(st.integers(low, high))
    if kind == "value":
        return str(a)
    b = draw(st.integers(a, high))
    text = f"{a}-{b}"
    return text + f"/{draw(st.integers(1, 30))}" if kind == "step" else text


@st.composite
def valid_schedule(draw: st.DrawFn) -> str:
    fields = []
    for low, high in FIELD_BOUNDS:
        items = draw(st.lists(cron_item(low, high), min_size=1, max_size=3))
        fields.append(",".join(items))
    return " ".join(fields)


@given(valid_schedule())
@settings(max_examples=300)
def test_schedules_within_bounds_are_accepted(schedule: str) -> None:
    assert cron.problem(schedule) is None


@given(st.integers(0, 4), st.integers(60, 1000), valid_schedule())
def test_a_value_out_of_its_field_bounds_is_refused(field: int, value: int, schedule: str) -> None:
    parts = schedule.split()
    parts[field] = str(value)
    problem = cron.problem(" ".join(parts))
    assert problem is not None and cron.FIELDS[field].name in problem


@given(
    st.lists(st.sampled_from(["*", "1", "MON"]), min_size=0, max_size=8).filter(
        lambda p: len(p) != 5
    )
)
def test_wrong_field_count_is_refused(parts: list[str]) -> None:
    assert cron.problem(" ".join(parts)) is not None


def test_macros_names_and_time_zone_prefix() -> None:
    assert cron.problem("@daily") is None
    assert cron.problem("0 0 ? JAN-mar mon-FRI") is None
    assert "unknown macro" in (cron.problem("@every 5m") or "")
    assert "time_zone" in (cron.problem("CRON_TZ=UTC 0 * * * *") or "")
    assert "backwards" in (cron.problem("0 5-1 * * *") or "")
    assert "only allowed in the day fields" in (cron.problem("? * * * *") or "")


ENUM_FIELDS = {
    "ExecutionMode": "execution:\n  mode: {}\n",
    "ImagePullPolicy": "kubernetes:\n  image_pull_policy: {}\n",
    "OtlpTransport": "observability:\n  transport: {}\n",
    "AttributeLevel": "observability:\n  tracing:\n    attribute_level: {}\n",
}
BASE = (
    "name: demo\nstages:\n  - name: src\n    type: noop_source\n    output_queue: q\n"
    "  - name: sink\n    type: stdout_sink\n    input_queue: q\nqueues:\n  - name: q\n"
)


@st.composite
def spelling(draw: st.DrawFn) -> tuple[str, str, str]:
    definition = draw(st.sampled_from(sorted(ENUM_FIELDS)))
    canonical = schemas.load(schemas.FLOW_SCHEMA)["$defs"][definition]["x-flowpipe-canonical"]
    accepted = draw(st.sampled_from(sorted(canonical)))
    return definition, accepted, canonical[accepted]


@given(spelling())
@settings(max_examples=100, deadline=None)
def test_every_accepted_spelling_compiles_to_its_canonical_name(case: tuple[str, str, str]) -> None:
    definition, accepted, expected = case
    text = BASE + ENUM_FIELDS[definition].format(accepted)
    result = check_bytes("f.yaml", text.encode(), "f", Path())
    assert result.spec is not None, result.diagnostics
    node = result.spec
    for key in ENUM_FIELDS[definition].split(":")[:-1]:
        node = node[key.strip()]
    assert node == expected
