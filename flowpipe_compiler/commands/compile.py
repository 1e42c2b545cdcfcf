"""`flowpipe compile`: flows and overlays to the Kustomize tree and the Helm chart.

Only the ``kustomize/`` and ``helm/`` folders of the output directory are managed, and no
file is written or removed through a symlink that leaves the output directory (a pull
request could plant one in the committed output).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flowpipe_compiler.check import FileResult, check_paths
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.diagnostics import Diagnostic, FlowpipeError, Severity
from flowpipe_compiler.render import helm, kube_schema, overlays
from flowpipe_compiler.render.kustomize import Overlay, tree
from flowpipe_compiler.render.objects import RenderError, render
from flowpipe_compiler.reporters import REPORTERS


def load_repo(
    root: Path, envs: list[str] | None
) -> tuple[dict[str, dict[str, Any]], list[Overlay], dict[str, FileResult], list[FileResult]]:
    """The compiled specs by flow name, the overlays of ``envs`` (None: every environment),
    each flow's file result by name, and the results with errors (flows, duplicate flow
    names, overlays)."""
    results = check_paths([str(root / "flows")], root)
    problems = [r for r in results if r.errors]
    specs = {r.spec["name"]: r.spec for r in results if r.spec is not None}
    by_name: dict[str, FileResult] = {}
    for r in results:
        if r.spec is not None:
            if r.spec["name"] in by_name:
                r.diagnostics.append(
                    Diagnostic(
                        "FP502",
                        Severity.ERROR,
                        f"flow name '{r.spec['name']}' is also used by "
                        f"{by_name[r.spec['name']].path}",
                        r.path,
                        None,
                        hint="flow names become object names: make them unique",
                    )
                )
                problems.append(r)
            by_name[r.spec["name"]] = r
    loaded, overlay_results = overlays.load(
        root, overlays.available(root) if envs is None else envs, specs
    )
    problems += [r for r in overlay_results if r.errors]
    return specs, loaded, by_name, problems


def check_object(result: FileResult, obj: dict[str, Any], kube_version: str) -> None:
    """Add an FP502 to the flow's ``result`` for each way Kubernetes would refuse ``obj``."""
    for problem in kube_schema.problems(obj, kube_version):
        result.diagnostics.append(
            Diagnostic(
                "FP502",
                Severity.ERROR,
                f"{obj['kind']} {obj['metadata']['name']} is not valid for Kubernetes "
                f"{kube_version}: {problem}",
                result.path,
                None,
            )
        )


def render_files(
    root: Path, envs: list[str], kube_version: str, shapes: tuple[str, ...] = ("kustomize", "helm")
) -> tuple[dict[str, str], list[FileResult]]:
    """Every output file, or the findings that stop the compilation."""
    specs, loaded, by_name, problems = load_repo(root, envs or None)
    for name, spec in specs.items():
        try:
            for obj in render(spec).objects:
                check_object(by_name[name], obj, kube_version)
        except (RenderError, kube_schema.UnknownKind) as exc:
            by_name[name].diagnostics.append(
                Diagnostic("FP502", Severity.ERROR, str(exc), by_name[name].path, None)
            )
        if by_name[name].errors and by_name[name] not in problems:
            problems.append(by_name[name])
    if problems:
        return {}, problems
    files = tree(specs, loaded) if "kustomize" in shapes else {}
    if "helm" in shapes:
        files.update(helm.chart(specs, loaded))
    return files, []


def _confined(out: Path, paths: list[str]) -> None:
    base = out.resolve()
    for path in paths:
        if not (out / path).resolve().is_relative_to(base):
            raise FlowpipeError(
                f"{(out / path).as_posix()} leads out of {out.as_posix()} through a symlink; "
                "nothing was written. Remove the symlink."
            )


def compile_repo(
    root: Path, out: Path, envs: list[str], kube_version: str, check: bool, output_format: str
) -> int:
    shapes = ("kustomize", "helm") if output_format == "all" else (output_format,)
    files, problems = render_files(root, envs, kube_version, shapes)
    if problems:
        sys.stderr.write(REPORTERS["text"](problems))
        return Exit.FINDINGS
    existing = {
        p.relative_to(out).as_posix()
        for shape in shapes
        if (out / shape).is_dir()
        for p in (out / shape).rglob("*")
        if p.is_file()
    }
    stale = sorted(
        [
            p
            for p, text in files.items()
            if not (out / p).is_file() or (out / p).read_text(encoding="utf-8") != text
        ]
        + list(existing - set(files))
    )
    _confined(out, stale)
    if check:
        for path in stale:
            sys.stdout.write(f"stale: {(out / path).as_posix()}\n")
        if stale:
            sys.stdout.write("rendered output is not up to date; run: flowpipe compile\n")
        return Exit.FINDINGS if stale else Exit.OK
    for path in existing - set(files):
        (out / path).unlink()
    for shape in shapes:
        folders = (out / shape).rglob("*") if (out / shape).is_dir() else []
        for directory in sorted((p for p in folders if p.is_dir()), reverse=True):
            if not any(directory.iterdir()):
                directory.rmdir()  # a flow or environment that is gone leaves no empty folder
    changed = [path for path in stale if path in files]
    for folder in sorted({(out / path).parent for path in changed}):
        folder.mkdir(parents=True, exist_ok=True)
    # Thousands of small files: writing them from a few threads overlaps the file system's
    # work with ours (the figures are in docs/benchmarks.md, suite "render").
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda path: (out / path).write_bytes(files[path].encode()), changed))
    sys.stdout.write(f"{len(files)} files in {out.as_posix()} ({len(stale)} changed)\n")
    return Exit.OK
