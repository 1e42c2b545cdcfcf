"""The Helm chart: clean under `helm lint --strict`, schema-checked values, and for every
environment the same objects as the Kustomize overlay (but for the ConfigMap hash suffix)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from flowpipe_compiler.render import kube_schema
from tests.conftest import REPO

from .test_kustomize import build

CHART = "rendered/helm/flowpipe"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flowpipe_compiler.cli import main

    root = tmp_path_factory.mktemp("gitops")
    for part in ("flows", "overlays", "schemas"):
        shutil.copytree(REPO / part, root / part)
    (root / ".git").mkdir()
    assert main(["compile", "--root", str(root)]) == 0
    return root


def helm_objects(root: Path, env: str, namespace: str) -> list[dict[str, Any]]:
    import helm_python as helm
    from ruamel.yaml import YAML

    values = helm.values_from_yaml((root / CHART / f"values-{env}.yaml").read_text())
    manifests = helm.Chart.load(str(root / CHART)).render(values, name="flows", namespace=namespace)
    return [d for text in manifests.values() for d in YAML(typ="safe").load_all(text) if d]


def without_hash(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kustomize's ConfigMap names carry a content hash; Helm's do not."""
    renamed = {
        o["metadata"]["name"]: re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"])
        for o in objects
        if o["kind"] == "ConfigMap"
    }

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return renamed.get(value, value) if isinstance(value, str) else value

    return sorted((strip(o) for o in objects), key=lambda o: (o["kind"], o["metadata"]["name"]))


@pytest.mark.parametrize("env", [None, "dev", "prod"])
def test_helm_lint_strict_is_clean(compiled: Path, env: str | None) -> None:
    import helm_python as helm

    values = (
        helm.values_from_yaml((compiled / CHART / f"values-{env}.yaml").read_text())
        if env
        else None
    )
    report = helm.lint(str(compiled / CHART), values, strict=True, kube_version="v1.33.0")
    assert report["errors"] == [] and report["messages"] == []


@pytest.mark.parametrize(("env", "namespace"), [("dev", "flowpipe-dev"), ("prod", "flowpipe")])
def test_helm_and_kustomize_give_the_same_objects(compiled: Path, env: str, namespace: str) -> None:
    from_helm = sorted(
        helm_objects(compiled, env, namespace), key=lambda o: (o["kind"], o["metadata"]["name"])
    )
    from_kustomize = without_hash(build(compiled / "rendered/kustomize/overlays" / env))
    assert [(o["kind"], o["metadata"]["name"]) for o in from_helm] == [
        (o["kind"], o["metadata"]["name"]) for o in from_kustomize
    ]
    for mine, theirs in zip(from_helm, from_kustomize, strict=True):
        assert mine == theirs, mine["metadata"]["name"]
        if mine["kind"] != "ConfigMap":
            assert kube_schema.problems(mine) == []


def test_values_schema_rejects_bad_values(compiled: Path) -> None:
    import helm_python as helm

    chart = helm.Chart.load(str(compiled / CHART))
    good = helm.values_from_yaml((compiled / CHART / "values.yaml").read_text())
    chart.validate_schema(good)
    name = sorted(good["flows"])[0]
    for bad in (
        {"flows": {name: {**good["flows"][name], "kind": "Pod"}}},
        {"flows": {name: {**good["flows"][name], "replicas": -1}}},
        {"flows": {name: {**good["flows"][name], "surprise": 1}}},
        {"flow": {}},
    ):
        with pytest.raises(helm.HelmError):
            chart.validate_schema(bad)
