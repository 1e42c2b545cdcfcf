"""Rendering to Kustomize, checked with a real kustomize and the Kubernetes OpenAPI schemas."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowpipe_compiler import source
from flowpipe_compiler.render import kube_schema
from tests.conftest import REPO, Outcome

Run = Callable[..., Outcome]


def build(directory: Path) -> list[dict[str, Any]]:
    import pykustomize

    return list(asyncio.run(pykustomize.build_json(str(directory))).resources)


@pytest.fixture
def gitops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of this repository's example GitOps content."""
    for part in ("flows", "overlays", "schemas"):
        shutil.copytree(REPO / part, tmp_path / part)
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_committed_output_is_up_to_date(flowpipe: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = flowpipe("compile", "--check")
    assert result.code == 0, result.out + "\nregenerate with: make generate"


def test_output_is_deterministic_and_check_finds_stale_files(gitops: Path, flowpipe: Run) -> None:
    assert flowpipe("compile").code == 0
    first = {p: p.read_bytes() for p in sorted((gitops / "rendered").rglob("*")) if p.is_file()}
    assert flowpipe("compile").out.endswith("(0 changed)\n")
    again = {p: p.read_bytes() for p in sorted((gitops / "rendered").rglob("*")) if p.is_file()}
    assert again == first
    flow = gitops / "flows/noop-streaming.yaml"
    flow.write_text(flow.read_text().replace("threads: 2", "threads: 3"))
    stale = flowpipe("compile", "--check")
    assert stale.code == 1
    assert "stale: rendered/kustomize/base/noop-streaming/flow.yaml" in stale.out.replace(
        str(gitops) + "/", ""
    )
    (gitops / "flows/noop-streaming.yaml").unlink()
    assert flowpipe("compile").code == 0
    assert not (gitops / "rendered/kustomize/base/noop-streaming").exists()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_overlay_builds_with_kustomize_into_valid_objects(
    gitops: Path, flowpipe: Run, env: str
) -> None:
    assert flowpipe("compile").code == 0
    objects = build(gitops / "rendered/kustomize/overlays" / env)
    kinds = {o["kind"] for o in objects}
    assert kinds == {"ConfigMap", "CronJob", "DaemonSet", "Deployment", "Job", "Service"}
    for obj in objects:
        assert kube_schema.problems(obj) == [], obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["flowpipe.io/flow-name"]
        assert obj["metadata"]["namespace"] == {"dev": "flowpipe-dev", "prod": "flowpipe"}[env]
    workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet", "Job")]
    for workload in workloads:
        pod = workload["spec"]["template"]
        container = pod["spec"]["containers"][0]
        assert container["name"] == "runtime" and container["args"] == ["/config/flow.yaml"]
        assert pod["metadata"]["annotations"]["flowpipe.io/flow-config-checksum"]
        config = pod["spec"]["volumes"][0]["configMap"]["name"]
        assert config in {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}


def test_environment_overrides_change_the_spec_and_the_checksum(
    gitops: Path, flowpipe: Run
) -> None:
    assert flowpipe("compile").code == 0
    by_env = {}
    for env in ("dev", "prod"):
        objects = build(gitops / "rendered/kustomize/overlays" / env)
        deployment = next(o for o in objects if o["metadata"]["name"] == "trade-ingest-runtime")
        config_name = deployment["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
        config = next(o for o in objects if o["metadata"]["name"] == config_name)
        by_env[env] = (deployment, source.load("f", config["data"]["flow.yaml"]).data)
    prod, prod_spec = by_env["prod"]
    dev, dev_spec = by_env["dev"]
    assert prod["spec"]["replicas"] == 3 and dev["spec"]["replicas"] == 1
    assert next(s for s in prod_spec["stages"] if s["name"] == "parser")["threads"] == 8
    assert next(s for s in dev_spec["stages"] if s["name"] == "parser")["threads"] == 4
    assert prod_spec["env"]["DATABASE_URL"] == "postgresql://flowpipe@db.prod/trading"
    checksum = "flowpipe.io/flow-config-checksum"
    assert (
        prod["spec"]["template"]["metadata"]["annotations"][checksum]
        != dev["spec"]["template"]["metadata"]["annotations"][checksum]
    )
    resources = prod["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == resources["limits"] == {"cpu": "2", "memory": "1024Mi"}


def test_a_changed_job_still_applies_under_argo_cd(gitops: Path, flowpipe: Run) -> None:
    assert flowpipe("compile").code == 0
    job = next(
        obj
        for obj in build(gitops / "rendered/kustomize/base/csv-to-sqlite")
        if obj["kind"] == "Job"
    )
    assert job["kind"] == "Job"
    # A Job's template is immutable; Argo CD deletes and recreates it on change.
    assert (
        job["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
        == "Force=true,Replace=true"
    )
    before = build(gitops / "rendered/kustomize/base/csv-to-sqlite")
    flow = gitops / "flows/csv-to-sqlite.yaml"
    flow.write_text(flow.read_text().replace("threads: 2", "threads: 3"))
    assert flowpipe("compile").code == 0
    after = build(gitops / "rendered/kustomize/base/csv-to-sqlite")
    template = lambda objs: next(o for o in objs if o["kind"] == "Job")["spec"]["template"]  # noqa: E731
    assert template(before) != template(after)


HOSTILE = [
    "quote \" and ' here",
    "two\nlines",
    "{{ 7 * 7 }}",
    "---\nkind: Secret",
    "!!python/object:os.system",
    "}: {",
]


def test_user_values_are_data_and_round_trip_exactly(gitops: Path, flowpipe: Run) -> None:
    annotations = "\n".join(
        f"    example.com/v{i}: {__import__('json').dumps(v)}" for i, v in enumerate(HOSTILE)
    )
    env = "\n".join(f"  V{i}: {__import__('json').dumps(v)}" for i, v in enumerate(HOSTILE))
    flow = (
        "name: hostile\nstages:\n  - {name: s, type: noop_source, output_queue: q}\n"
        "  - {name: o, type: stdout_sink, input_queue: q}\nqueues: [{name: q}]\n"
        f"kubernetes_options:\n  pod_annotations:\n{annotations}\nenv:\n{env}\n"
    )
    (gitops / "flows/hostile.yaml").write_text(flow)
    result = flowpipe("compile")
    assert result.code == 0, result.err
    objects = build(gitops / "rendered/kustomize/base/hostile")
    assert sorted(o["kind"] for o in objects) == ["ConfigMap", "Deployment", "Service"]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]
    for i, value in enumerate(HOSTILE):
        assert pod["metadata"]["annotations"][f"example.com/v{i}"] == value
    container_env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert container_env == {f"V{i}": v for i, v in enumerate(HOSTILE)}
    assert set(deployment) == {"apiVersion", "kind", "metadata", "spec"}


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        (
            "flows:\n  trade-ingset: {replicas: 2}\n",
            "overlay.yaml:2:3: error[FP501]: overlay names flow 'trade-ingset', which is not in",
        ),
        (
            "flows:\n  trade-ingest:\n    stages: {parsr: {threads: 2}}\n",
            "overlay.yaml:3:14: error[FP501]: flow 'trade-ingest' has no stage 'parsr'",
        ),
        (
            "namespace: prod\nreplicas: 3\n",
            "overlay.yaml:2:1: error[FP100]: unknown field 'replicas'",
        ),
        ("namespace: Prod_1\n", "overlay.yaml:1:12: error[FP105]"),
    ],
)
def test_overlay_mistakes_are_located(
    gitops: Path, flowpipe: Run, overlay: str, expected: str
) -> None:
    (gitops / "overlays/staging").mkdir()
    (gitops / "overlays/staging/overlay.yaml").write_text(overlay)
    result = flowpipe("compile", "--env", "staging")
    assert result.code == 1
    assert expected in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        (
            "execution: {mode: job}\nkubernetes: {restart_policy: RESTART_POLICY_ALWAYS}\n",
            "restart_policy RESTART_POLICY_ALWAYS is not allowed for a job",
        ),
        (
            "kubernetes: {cpu_pinning: {s: {cpu: [0]}}}\n",
            "cpu_pinning needs kubernetes.resources.memory_mb",
        ),
    ],
)
def test_flows_kubernetes_would_refuse_are_reported(
    gitops: Path, flowpipe: Run, addition: str, expected: str
) -> None:
    (gitops / "flows/bad.yaml").write_text(
        "name: bad\nstages:\n  - {name: s, type: noop_source, output_queue: q}\n"
        "  - {name: o, type: stdout_sink, input_queue: q}\nqueues: [{name: q}]\n" + addition
    )
    result = flowpipe("compile")
    assert result.code == 1
    assert "flows/bad.yaml: error[FP502]: " + expected in result.err


def test_no_file_is_written_through_a_symlink_out_of_the_output(
    gitops: Path, flowpipe: Run, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (gitops / "rendered").mkdir()
    (gitops / "rendered/helm").symlink_to(elsewhere, target_is_directory=True)
    result = flowpipe("compile")
    assert result.code == 1
    assert "leads out of" in result.err and "through a symlink" in result.err
    assert list(elsewhere.iterdir()) == []
    assert not (gitops / "rendered/kustomize").exists()
