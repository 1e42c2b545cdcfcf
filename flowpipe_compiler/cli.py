"""Command-line parsing only: options become arguments of a command function.

``main`` is the one place that turns outcomes into exit codes: 0 ok, 1 findings,
2 usage, 3 internal error (traceback with ``--traceback``), 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import click

from flowpipe_compiler import __version__
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.registry.compat import Mode
from flowpipe_compiler.registry.formats import EXTENSIONS

_FORMATS = ("text", "json", "github", "sarif")
_root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Repository root; no path outside it is read. Default: the enclosing git repository.",
)


def _root(root: Path | None) -> Path:
    from flowpipe_compiler.check import repo_root

    return root if root is not None else repo_root(Path.cwd())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowpipe")
@click.option("--traceback", is_flag=True, help="Print the traceback of an internal error.")
def cli(traceback: bool) -> None:
    """flowpipe: check flows and compile them for Kubernetes."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--format", "output_format", type=click.Choice(_FORMATS), default="text", show_default=True
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@_root_option
def validate(paths: tuple[str, ...], output_format: str, strict: bool, root: Path | None) -> int:
    """Check flow files (default: flows/) and report every finding."""
    from flowpipe_compiler.commands.validate import validate as run

    return run(list(paths) or ["flows"], _root(root), output_format, strict)


@cli.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@_root_option
def spec(file: str, as_json: bool, root: Path | None) -> int:
    """Print the normalised, canonical (compiled) spec of one flow."""
    from flowpipe_compiler.commands.spec import spec as run

    return run(file, _root(root), as_json)


@cli.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("mermaid", "dot")),
    default="mermaid",
    show_default=True,
)
@_root_option
def graph(file: str, output_format: str, root: Path | None) -> int:
    """Draw one flow as a Mermaid flowchart or a Graphviz graph."""
    from flowpipe_compiler.commands.spec import draw

    return draw(file, _root(root), output_format)


@cli.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option(
    "--http-port",
    default="off",
    show_default=True,
    help="Serve /healthz, /readyz and /metrics on this port (0: any free port).",
)
@_root_option
def run(file: str, http_port: str, root: Path | None) -> int:
    """Compile one flow and run it here with flowpipe-runtime; exits with its exit code."""
    from flowpipe_compiler.commands.run import run as start

    return start(file, _root(root), http_port)


@cli.command("compile")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("rendered"),
    show_default=True,
    help="Output directory (relative to the repository root).",
)
@click.option("--env", "envs", multiple=True, help="Environment overlay to render (default: all).")
@click.option(
    "--kube-version",
    default="1.33",
    show_default=True,
    help="Kubernetes version whose OpenAPI schema every object must satisfy.",
)
@click.option("--check", is_flag=True, help="Exit 1 and list stale files instead of writing.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("kustomize", "helm", "all")),
    default="all",
    show_default=True,
)
@_root_option
def compile_command(
    out: Path,
    envs: tuple[str, ...],
    kube_version: str,
    check: bool,
    output_format: str,
    root: Path | None,
) -> int:
    """Render every flow to Kustomize (a base per flow, an overlay per environment) and to
    a Helm chart (a values file per environment)."""
    from flowpipe_compiler.commands.compile import compile_repo

    base = _root(root)
    target = out if out.is_absolute() else base / out
    return compile_repo(base, target, list(envs), kube_version, check, output_format)


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path())
@click.option(
    "--repo-url",
    default="https://github.com/OWNER/flows.git",
    show_default=True,
    help="The repository's URL, for the Argo CD ApplicationSet.",
)
def init_command(directory: Path, repo_url: str) -> int:
    """Start a repository of flows: an example flow and schema, dev and prod overlays,
    pre-commit hooks, a CI workflow, the Argo CD ApplicationSet, and the rendered output."""
    from flowpipe_compiler.commands.init import init

    return init(directory, repo_url)


@cli.command("diff")
@click.option("--against", metavar="REF", required=True, help="Git ref to compare with.")
@_root_option
def diff_command(against: str, root: Path | None) -> int:
    """Object-level diff of the rendered output between REF and the working tree."""
    from flowpipe_compiler.commands.diff import diff

    return diff(_root(root), against)


@cli.group()
def argocd() -> None:
    """The Argo CD Config Management Plugin (deploy/argocd/plugin.yaml runs these)."""


@argocd.command("generate")
def argocd_generate() -> int:
    """Print the application's objects as a YAML stream, from Argo CD's build environment
    (ARGOCD_APP_PARAMETERS, ARGOCD_ENV_FLOWPIPE_*, ARGOCD_APP_NAMESPACE, KUBE_VERSION), run
    in the application's source directory. Nothing on stdout unless it all succeeds."""
    import os

    from flowpipe_compiler.commands.argocd import generate

    return generate(Path.cwd(), os.environ)


@argocd.command("parameters")
def argocd_parameters() -> int:
    """Print the plugin's parameter announcement (JSON) for the Argo CD UI."""
    from flowpipe_compiler.commands.argocd import parameters

    return parameters()


@cli.group()
def schema() -> None:
    """The schema registry in schemas/: list, get, check, create, activate, delete."""


@schema.command("list")
@click.argument("schema_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_root_option
def schema_list(schema_id: str | None, as_json: bool, root: Path | None) -> int:
    """List schemas (or one), with format, mode, active version and versions."""
    from flowpipe_compiler.commands.schema import list_schemas

    return list_schemas(_root(root), schema_id, as_json)


@schema.command("get")
@click.argument("schema_id")
@click.argument("version", type=click.IntRange(min=0), default=0)
@_root_option
def schema_get(schema_id: str, version: int, root: Path | None) -> int:
    """Print a version of a schema (0 or omitted: the active one)."""
    from flowpipe_compiler.commands.schema import get

    return get(_root(root), schema_id, version)


@schema.command("check")
@click.option(
    "--format", "output_format", type=click.Choice(_FORMATS), default="text", show_default=True
)
@click.option(
    "--against",
    metavar="REF",
    help="Git base that published versions are compared with "
    "(default: merge base with origin/main, else HEAD).",
)
@_root_option
def schema_check(output_format: str, against: str | None, root: Path | None) -> int:
    """Check every entry: metadata, versions, formats, compatibility, edits to published ones."""
    from flowpipe_compiler.commands.schema import check_registry

    return check_registry(_root(root), output_format, against)


@schema.command("create")
@click.argument("schema_id")
@click.option("--format", "fmt", required=True, type=click.Choice(list(EXTENSIONS)))
@click.option("--file", "body", required=True, type=click.File("rb"), help="PATH, or - for stdin.")
@click.option("--no-activate", is_flag=True, help="Write the version but keep the active one.")
@click.option(
    "--compatibility",
    type=click.Choice([mode.value for mode in Mode]),
    help="Set the schema's mode (default: the repository's, BACKWARD).",
)
@click.option("--description", help="What the records are.")
@_root_option
def schema_create(
    schema_id: str,
    fmt: str,
    body: Any,
    no_activate: bool,
    compatibility: str | None,
    description: str | None,
    root: Path | None,
) -> int:
    """Write the next version of a schema after the compatibility check."""
    from flowpipe_compiler.commands.schema import create

    return create(
        _root(root),
        schema_id,
        fmt,
        body.read(),
        activate=not no_activate,
        mode=compatibility,
        description=description,
    )


@schema.command("activate")
@click.argument("schema_id")
@click.argument("version", type=click.IntRange(min=1))
@_root_option
def schema_activate(schema_id: str, version: int, root: Path | None) -> int:
    """Make VERSION the one flows get when they name no version."""
    from flowpipe_compiler.commands.schema import activate

    return activate(_root(root), schema_id, version)


@schema.command("delete")
@click.argument("schema_id")
@_root_option
def schema_delete(schema_id: str, root: Path | None) -> int:
    """Delete a schema; refused while a flow in flows/ uses it."""
    from flowpipe_compiler.commands.schema import delete

    return delete(_root(root), schema_id)


@cli.group()
def registry() -> None:
    """The schema registry as a service."""


@registry.command("serve")
@click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="Git repository (bare, or a dedicated clone).",
)
@click.option("--branch", default="main", show_default=True, help="Branch read and written.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8081, show_default=True)
@click.option(
    "--token-env",
    default="FLOWPIPE_REGISTRY_TOKEN",
    show_default=True,
    help="Environment variable holding the bearer token writes need; unset: read-only.",
)
def registry_serve(repo: Path, branch: str, host: str, port: int, token_env: str) -> int:
    """Serve flow-pipe's /v1/schemas endpoints from a git branch (writes are commits)."""
    import os

    from flowpipe_compiler.commands.serve import serve

    return serve(repo, branch, host, port, os.environ.get(token_env) or None)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from flowpipe_compiler.diagnostics import FlowpipeError

    try:
        result = cli.main(args=args, prog_name="flowpipe", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return Exit.USAGE
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.stderr.write("flowpipe: interrupted\n")
        return Exit.INTERRUPTED
    except FlowpipeError as exc:
        sys.stderr.write(f"flowpipe: error: {exc}\n")
        return exc.exit_code
    except Exception as exc:
        if "--traceback" in args:
            traceback.print_exc()
        sys.stderr.write(
            f"flowpipe: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in flowpipe, not in your flow. "
            "Run again with --traceback and report what it prints.\n"
        )
        return Exit.INTERNAL
    return int(result) if isinstance(result, int) else Exit.OK
