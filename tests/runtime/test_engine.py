"""Engine semantics with exact counts: no loss, no duplicates, termination, failures."""

from __future__ import annotations

import pytest

from flowpipe_runtime import registry
from flowpipe_runtime.engine import Flow
from flowpipe_runtime.settings import Settings

from . import teststages
from .conftest import make_spec


def run(spec: dict, **settings: object) -> Flow:
    flow = Flow(spec, Settings(http_port=None, **settings), env={})  # type: ignore[arg-type]
    flow.start()
    assert flow.wait(timeout=60), "flow did not finish"
    return flow


def test_competing_consumers_get_each_record_exactly_once() -> None:
    count = 200_000
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "counting_source",
                "threads": 3,
                "output_queue": "a",
                "config": {"count": count},
            },
            {
                "name": "pass",
                "type": "noop_transform",
                "threads": 4,
                "input_queue": "a",
                "output_queue": "b",
            },
            {
                "name": "left",
                "type": "collect",
                "threads": 2,
                "input_queue": "b",
                "config": {"key": "left"},
            },
            {
                "name": "right",
                "type": "collect",
                "threads": 3,
                "input_queue": "b",
                "config": {"key": "right"},
            },
        ],
        [{"name": "a", "capacity": 100}, {"name": "b", "capacity": 37}],
    )
    flow = run(spec, batch_size=16)
    left, right = teststages.COLLECTED["left"], teststages.COLLECTED["right"]
    assert sorted(left + right) == list(range(count))
    assert left and right, "both consumers should have received records"
    assert flow.queues["a"].stats.max_depth <= 100
    assert flow.queues["b"].stats.max_depth <= 37
    assert flow.summary()["stages"] == {
        "src": count,
        "pass": count,
        "left": len(left),
        "right": len(right),
    }
    assert flow.failures == []


def test_a_failing_stage_stops_the_flow_and_names_the_stage() -> None:
    spec = make_spec(
        [
            # an endless source: the flow can only end because the failure stops it
            {"name": "src", "type": "noop_source", "output_queue": "a", "config": {}},
            {
                "name": "boom",
                "type": "fail_at",
                "input_queue": "a",
                "output_queue": "b",
                "config": {"at": "hello"},
            },
            {"name": "sink", "type": "collect", "input_queue": "b", "config": {"key": "out"}},
        ],
        [{"name": "a", "capacity": 64}, {"name": "b"}],
    )
    flow = run(spec)
    (failure,) = flow.failures
    assert "stage 'boom' (fail_at) failed at or after record #1" in failure
    assert "ValueError: record hello is poison" in failure
    assert teststages.COLLECTED.get("out", []) == []


def test_downstream_drains_what_was_produced_before_a_failure() -> None:
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "counting_source",
                "output_queue": "a",
                "config": {"count": 10_000, "batch": 10},
            },
            {
                "name": "check",
                "type": "fail_at",
                "input_queue": "a",
                "output_queue": "b",
                "config": {"at": 5_000},
            },
            {"name": "sink", "type": "collect", "input_queue": "b", "config": {"key": "out"}},
        ],
        [{"name": "a", "capacity": 20}, {"name": "b", "capacity": 20000}],
    )
    flow = run(spec, batch_size=10)
    out = teststages.COLLECTED["out"]
    # Every batch the transform passed on reached the sink: a prefix in order, nothing lost.
    assert out == list(range(len(out)))
    assert 0 < len(out) <= 5_000
    assert len(flow.failures) == 1


def test_a_stage_that_cannot_open_fails_the_run() -> None:
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "counting_source",
                "output_queue": "a",
                "config": {"count": 1_000_000},
            },
            {"name": "db", "type": "failing_open", "input_queue": "a"},
        ],
        [{"name": "a", "capacity": 10}],
    )
    flow = run(spec)
    assert any("stage 'db'" in f and "database is down" in f for f in flow.failures)


def test_unknown_type_lists_the_installed_ones() -> None:
    spec = make_spec([{"name": "x", "type": "collect", "config": {"key": "k"}}], [])
    spec["stages"][0]["type"] = "kafka_source"
    with pytest.raises(registry.StartupError) as caught:
        Flow(spec, Settings(http_port=None), env={})
    message = str(caught.value)
    assert message.startswith("stage 'x': unknown stage type 'kafka_source'; installed types: ")
    assert "noop_source" in message and "stdout_sink" in message


def test_catalogue_type_without_an_implementation_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = registry.installed()
    monkeypatch.setattr(
        registry, "installed", lambda: {k: v for k, v in installed.items() if k != "sqs_listener"}
    )
    spec = make_spec(
        [
            {"name": "in", "type": "sqs_listener", "output_queue": "a"},
            {"name": "out", "type": "collect", "input_queue": "a", "config": {"key": "k"}},
        ],
        [{"name": "a"}],
    )
    with pytest.raises(registry.StartupError, match="no installed package implements it"):
        Flow(spec, Settings(http_port=None), env={})


def test_bad_config_stops_start_up() -> None:
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "noop_source",
                "output_queue": "a",
                "config": {"max_messages": "many"},
            },
            {"name": "out", "type": "stdout_sink", "input_queue": "a"},
        ],
        [{"name": "a"}],
    )
    with pytest.raises(registry.StartupError, match="stage 'src': invalid config"):
        Flow(spec, Settings(http_port=None), env={})


def test_builtin_implementations_match_the_catalogue() -> None:
    installed = registry.installed()
    catalogue = registry.catalogue()
    for name, entry in catalogue.items():
        if name in installed:
            assert installed[name].load().kind == entry["kind"], name
    builtins = {n for n, ep in installed.items() if ep.value.startswith("flowpipe_runtime.")}
    assert builtins == set(catalogue), "every catalogue type has a built-in implementation"


def test_cpu_pinning_applies_to_the_stage_threads() -> None:
    spec = make_spec(
        [
            {
                "name": "src",
                "type": "counting_source",
                "output_queue": "a",
                "config": {"count": 10},
            },
            {"name": "pinned", "type": "affinity", "threads": 2, "input_queue": "a"},
        ],
        [{"name": "a"}],
    )
    spec["kubernetes"]["cpu_pinning"] = {"pinned": {"cpu": [0]}}
    run(spec)
    assert teststages.COLLECTED["cpus"] == [[0], [0]]
