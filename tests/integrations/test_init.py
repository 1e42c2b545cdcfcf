"""`flowpipe init`, then what a user does next: validate, compile --check, the Argo CD
plugin's generate, and the hooks and workflow it set up."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from flowpipe_compiler.scaffold import FILES
from tests.conftest import REPO, Outcome
from tests.integrations.test_argocd import generate, stream

Run = Callable[..., Outcome]


def test_init_then_validate_compile_check_and_generate(tmp_path: Path, flowpipe: Run) -> None:
    target = tmp_path / "flows-repo"
    made = flowpipe("init", str(target), "--repo-url", "https://git.example/acme/flows.git")
    assert made.code == 0, made.err
    assert (target / ".git").is_dir()
    for name in FILES:
        assert (target / name).is_file(), name
    assert (
        "https://git.example/acme/flows.git"
        in (target / "deploy/argocd/applicationset.yaml").read_text()
    )

    assert flowpipe("validate", "--root", str(target), str(target / "flows")).code == 0
    checked = flowpipe("compile", "--root", str(target), "--check")
    assert checked.code == 0, checked.out + checked.err

    source = tmp_path / "argocd-source"
    shutil.copytree(target, source, ignore=shutil.ignore_patterns(".git"))
    appset = YAML(typ="safe").load((target / "deploy/argocd/applicationset.yaml").read_text())
    for element in appset["spec"]["generators"][0]["list"]["elements"]:
        done = generate(
            source,
            [{"name": "environment", "string": element["environment"]}],
            ARGOCD_APP_NAMESPACE=element["namespace"],
        )
        assert done.returncode == 0, done.stderr
        objects = stream(done.stdout)
        assert {o["kind"] for o in objects} == {"ConfigMap", "Job"}
        assert {o["metadata"]["namespace"] for o in objects} == {element["namespace"]}


def test_init_never_overwrites(tmp_path: Path, flowpipe: Run) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "greetings.yaml").write_text("mine\n")
    refused = flowpipe("init", str(tmp_path))
    assert refused.code == 2
    assert "already has flows/greetings.yaml; nothing was written" in refused.err
    assert (tmp_path / "flows" / "greetings.yaml").read_text() == "mine\n"
    assert not (tmp_path / "overlays").exists()


def test_scaffold_uses_this_projects_hooks_and_action() -> None:
    yaml = YAML(typ="safe")
    ours = {hook["id"] for hook in yaml.load((REPO / ".pre-commit-hooks.yaml").read_text())}
    config = yaml.load(FILES[".pre-commit-config.yaml"])
    [repo] = config["repos"]
    assert {hook["id"] for hook in repo["hooks"]} == ours
    workflow = yaml.load(FILES[".github/workflows/flowpipe.yml"])
    steps = workflow["jobs"]["check"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["fetch-depth"] == 0, "the registry check and diff need the base"
    assert steps[1]["uses"].split("@")[0] == "flowpipe/flowpipe"
    assert workflow["permissions"]["security-events"] == "write", "SARIF upload"
