"""The Argo CD Config Management Plugin, run the way Argo CD runs it: the repository copied
without `.git`, the `generate` command taken from deploy/argocd/plugin.yaml, Argo CD's
build environment, and the stream compared with what `flowpipe compile` rendered."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from ruamel.yaml import YAML

from flowpipe_compiler.argocd import PARAMETERS, PLUGIN, Request, request
from flowpipe_compiler.diagnostics import FlowpipeError
from flowpipe_compiler.render import kube_schema
from tests.conftest import REPO, git
from tests.render.test_helm import helm_objects, without_hash
from tests.render.test_kustomize import build

ARGOCD = REPO / "deploy" / "argocd"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


PLUGIN_CONFIG = load(ARGOCD / "plugin.yaml")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's tracked files without `.git`, as Argo CD hands them to a sidecar."""
    root = tmp_path_factory.mktemp("argocd-source")
    for name in git(REPO, "ls-files").splitlines():
        if (REPO / name).is_file() and not (REPO / name).is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / name, root / name)
    assert not (root / ".git").exists()
    return root


def generate(
    source: Path, parameters: list[dict[str, Any]] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    spec = PLUGIN_CONFIG["spec"]["generate"]
    environ = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(source),
        "ARGOCD_APP_NAME": "flows-test",
        "ARGOCD_APP_NAMESPACE": "apps",
        "ARGOCD_APP_REVISION": "f913b6cbf58aa5ae5ca1f8a2b149477aebcbd9d8",
        "KUBE_VERSION": "1.33.2",
        "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1",
        **env,
    }
    if parameters is not None:
        environ["ARGOCD_APP_PARAMETERS"] = orjson.dumps(parameters).decode()
    return subprocess.run(
        [*spec["command"], *spec.get("args", [])],
        cwd=source,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def stream(text: str) -> list[dict[str, Any]]:
    return sorted(
        (d for d in YAML(typ="safe").load_all(text) if d is not None),
        key=lambda o: (o["kind"], o["metadata"]["name"]),
    )


@pytest.mark.parametrize(("env", "namespace"), [("dev", "flowpipe-dev"), ("prod", "flowpipe")])
def test_generate_prints_what_compile_rendered_for_the_environment(
    checkout: Path, env: str, namespace: str
) -> None:
    done = generate(checkout, [{"name": "environment", "string": env}])
    assert done.returncode == 0, done.stderr
    objects = stream(done.stdout)
    expected = sorted(
        helm_objects(checkout, env, namespace), key=lambda o: (o["kind"], o["metadata"]["name"])
    )
    assert objects == expected
    assert without_hash(build(checkout / "rendered/kustomize/overlays" / env)) == objects
    flows = {o["metadata"]["labels"]["flowpipe.io/flow-name"] for o in objects}
    assert len(flows) == len(list((checkout / "flows").rglob("*.yaml")))
    assert f"{len(objects)} objects" in done.stderr
    for obj in objects:
        assert kube_schema.problems(obj, "1.33") == []


def test_without_an_environment_the_base_goes_to_the_app_namespace(checkout: Path) -> None:
    done = generate(checkout, ARGOCD_APP_NAMESPACE="team-a")
    assert done.returncode == 0, done.stderr
    objects = stream(done.stdout)
    assert objects == sorted(
        (
            {**o, "metadata": {**o["metadata"], "namespace": "team-a"}}
            for o in helm_objects_base(checkout)
        ),
        key=lambda o: (o["kind"], o["metadata"]["name"]),
    )


def helm_objects_base(root: Path) -> list[dict[str, Any]]:
    """The chart with its default values.yaml (no environment)."""
    import helm_python as helm

    chart = root / "rendered/helm/flowpipe"
    values = helm.values_from_yaml((chart / "values.yaml").read_text())
    manifests = helm.Chart.load(str(chart)).render(values, name="flows", namespace="team-a")
    return [d for text in manifests.values() for d in YAML(typ="safe").load_all(text) if d]


def test_selection_by_parameter_by_plugin_env_and_by_param_variables(checkout: Path) -> None:
    by_parameter = generate(
        checkout,
        [
            {"name": "environment", "string": "prod"},
            {"name": "flows", "array": ["trade-ingest", "orders-*"]},
        ],
    )
    by_env = generate(
        checkout,
        ARGOCD_ENV_FLOWPIPE_ENVIRONMENT="prod",
        ARGOCD_ENV_FLOWPIPE_FLOWS="trade-ingest, orders-*",
    )
    by_variables = generate(
        checkout, PARAM_ENVIRONMENT="prod", PARAM_FLOWS_0="trade-ingest", PARAM_FLOWS_1="orders-*"
    )
    for done in (by_parameter, by_env, by_variables):
        assert done.returncode == 0, done.stderr
        names = {o["metadata"]["labels"]["flowpipe.io/flow-name"] for o in stream(done.stdout)}
        assert names == {"trade-ingest", "orders-fanout"}
    assert by_parameter.stdout == by_env.stdout == by_variables.stdout


@pytest.mark.parametrize(
    ("parameters", "env", "message"),
    [
        ([{"name": "flows", "array": ["nope-*"]}], {}, "flow selection 'nope-*' matches no flow"),
        ([{"name": "environment", "string": "staging"}], {}, "no overlay for environment"),
        ([{"name": "env", "string": "prod"}], {}, "unknown plugin parameter 'env'"),
        ([{"name": "flows", "string": "x"}], {}, "'flows' must be set as a array"),
        (None, {"ARGOCD_APP_PARAMETERS": "[{"}, "ARGOCD_APP_PARAMETERS is not JSON"),
        (None, {"KUBE_VERSION": "latest"}, "KUBE_VERSION 'latest' is not a Kubernetes version"),
    ],
)
def test_a_bad_request_exits_non_zero_with_nothing_on_stdout(
    checkout: Path, parameters: list[dict[str, Any]] | None, env: dict[str, str], message: str
) -> None:
    done = generate(checkout, parameters, **env)
    assert done.returncode != 0
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_flow_or_an_empty_repository_prints_nothing(tmp_path: Path) -> None:
    for part in ("flows", "overlays", "schemas"):
        shutil.copytree(REPO / part, tmp_path / part)
    broken = tmp_path / "flows" / "orders-fanout.yaml"
    broken.write_text(broken.read_text().replace("input_queue:", "input_queu:", 1))
    done = generate(tmp_path, [{"name": "flows", "array": ["trade-ingest"]}])
    assert done.returncode == 1 and done.stdout == ""
    assert "flows/orders-fanout.yaml:" in done.stderr and "error[" in done.stderr

    shutil.rmtree(tmp_path / "flows")
    (tmp_path / "flows").mkdir()
    done = generate(tmp_path)
    assert done.returncode != 0 and done.stdout == ""
    assert "holds no flow files" in done.stderr


def test_a_newer_cluster_is_checked_against_the_newest_bundled_schemas(checkout: Path) -> None:
    done = generate(checkout, KUBE_VERSION="v1.99.0+k3s1")
    assert done.returncode == 0, done.stderr
    assert "Kubernetes 1.99 is newer than the bundled schemas" in done.stderr
    assert stream(done.stdout)


def test_request_precedence_parameters_over_plugin_env_over_defaults() -> None:
    assert request({}) == Request()
    assert request({"ARGOCD_ENV_FLOWPIPE_ENVIRONMENT": "dev"}).environment == "dev"
    both = {
        "ARGOCD_ENV_FLOWPIPE_ENVIRONMENT": "dev",
        "ARGOCD_APP_PARAMETERS": '[{"name": "environment", "string": "prod"}]',
        "PARAM_ENVIRONMENT": "ignored: the JSON is the parameters' full form",
    }
    assert request(both).environment == "prod"
    assert request({"KUBE_VERSION": "v1.31.4"}).kube_version == "1.31"
    with pytest.raises(FlowpipeError):
        request({"ARGOCD_APP_PARAMETERS": '{"name": "environment"}'})


def test_plugin_config_announces_the_parameters_the_code_applies(checkout: Path) -> None:
    spec = PLUGIN_CONFIG["spec"]
    assert PLUGIN_CONFIG["kind"] == "ConfigManagementPlugin"
    assert PLUGIN_CONFIG["metadata"]["name"] == PLUGIN and "version" not in spec
    announced = subprocess.run(
        spec["parameters"]["dynamic"]["command"],
        cwd=checkout,
        env={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        check=True,
    )
    parameters = orjson.loads(announced.stdout)
    assert parameters == PARAMETERS
    defaults = {p["name"]: p.get("string", p.get("array")) for p in parameters}
    assert request({}).flows == defaults["flows"]
    assert (request({}).environment or "") == defaults["environment"]
    # Discovery: Go's filepath.Glob of fileName, relative to the source directory.
    pattern = spec["discover"]["fileName"].removeprefix("./")
    found = [p.relative_to(checkout).as_posix() for p in checkout.glob("*/*")]
    assert fnmatch.filter(found, pattern)


def test_sidecar_image_is_what_argo_cd_expects() -> None:
    text = (ARGOCD / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith("#")]
    assert "USER 999" in lines
    assert 'ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]' in lines
    assert "COPY deploy/argocd/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml" in lines
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            assert (REPO / line.split()[1]).exists(), line


REPO_SERVER = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "argocd-repo-server"},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-repo-server"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "argocd-repo-server"}},
            "spec": {
                "containers": [
                    {
                        "name": "argocd-repo-server",
                        "image": "quay.io/argoproj/argocd:v3.2.0",
                        "volumeMounts": [
                            {"name": "var-files", "mountPath": "/var/run/argocd"},
                            {"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "var-files", "emptyDir": {}},
                    {"name": "plugins", "emptyDir": {}},
                    {"name": "tmp", "emptyDir": {}},
                ],
            },
        },
    },
}


def test_the_component_adds_the_sidecar_to_an_argo_cd_install(tmp_path: Path) -> None:
    """The install overlay's component applied to a repo-server shaped like Argo CD's own
    (the real install is a remote resource, and tests never use the network)."""
    shutil.copytree(ARGOCD / "component", tmp_path / "component")
    (tmp_path / "install").mkdir()
    (tmp_path / "install" / "repo-server.json").write_bytes(orjson.dumps(REPO_SERVER))
    install = load(ARGOCD / "install" / "kustomization.yaml")
    assert install["components"] == ["../component"]
    (tmp_path / "install" / "kustomization.yaml").write_bytes(
        orjson.dumps({**install, "resources": ["repo-server.json"]})
    )
    [deployment] = build(tmp_path / "install")
    assert kube_schema.problems(deployment, "1.33") == []
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["metadata"]["namespace"] == "argocd"
    [sidecar] = [c for c in pod["containers"] if c["name"] == "flowpipe-cmp"]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
    assert mounts["/var/run/argocd"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"] == "plugins"
    assert mounts["/tmp"] != "tmp", "the sidecar must not share the repo-server's /tmp"
    assert mounts["/tmp"] in {v["name"] for v in pod["volumes"]}
    assert {c["name"] for c in pod["containers"]} == {"argocd-repo-server", "flowpipe-cmp"}


@pytest.mark.parametrize("path", sorted((ARGOCD / "applications").glob("flows-*.yaml")))
def test_example_applications_generate(checkout: Path, path: Path) -> None:
    app = load(path)
    assert app["kind"] == "Application"
    source = app["spec"]["source"]
    assert source["plugin"]["name"] == PLUGIN and source["path"] == "."
    done = generate(
        checkout,
        source["plugin"].get("parameters", []),
        ARGOCD_APP_NAME=app["metadata"]["name"],
        ARGOCD_APP_NAMESPACE=app["spec"]["destination"]["namespace"],
        **{f"ARGOCD_ENV_{e['name']}": e["value"] for e in source["plugin"].get("env", [])},
    )
    assert done.returncode == 0, done.stderr
    assert {o["metadata"]["namespace"] for o in stream(done.stdout)} == {
        app["spec"]["destination"]["namespace"]
    }


@pytest.mark.parametrize("path", sorted((ARGOCD / "applications").glob("appset-*.yaml")))
def test_example_application_sets_use_the_plugin_and_its_parameters(path: Path) -> None:
    appset = load(path)
    assert appset["kind"] == "ApplicationSet" and appset["spec"]["goTemplate"] is True
    plugin = appset["spec"]["template"]["spec"]["source"]["plugin"]
    assert plugin["name"] == PLUGIN
    known = {p["name"]: p.get("collectionType", "string") for p in PARAMETERS}
    for parameter in plugin["parameters"]:
        assert known[parameter["name"]] in parameter
    environments = [
        e["environment"]
        for generator in appset["spec"]["generators"]
        for g in generator.get("matrix", {}).get("generators", [generator])
        for e in g.get("list", {}).get("elements", [])
    ]
    assert environments and all(
        (REPO / "overlays" / e / "overlay.yaml").is_file() for e in environments
    )
