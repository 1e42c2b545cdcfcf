"""`flowpipe diff --against REF`: what a change does to the Kubernetes objects, for review.

Both sides are rendered the same way: the working tree, and REF's flows/, overlays/ and
schemas/ read from git into a temporary directory (symlinks are not written out). The
result lists, per environment, the objects added and removed and every field changed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from flowpipe_compiler import emit, gitref
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.commands.compile import load_repo
from flowpipe_compiler.diagnostics import UsageError
from flowpipe_compiler.render.kustomize import Overlay, environment
from flowpipe_compiler.render.objects import RenderError, render
from flowpipe_compiler.reporters import REPORTERS

Key = tuple[str, str]
_PARTS = ("flows", "overlays", "schemas")


def objects(root: Path) -> dict[str, dict[Key, dict[str, Any]]]:
    """Every object by environment ('base' and each overlay), or UsageError on findings."""
    if not (root / "flows").is_dir():
        return {"base": {}}  # e.g. a ref from before the first flow
    specs, loaded, _, problems = load_repo(root, None)
    if problems:
        sys.stderr.write(REPORTERS["text"](problems))
        raise UsageError(f"{root}: flows or overlays have errors; see above")
    out: dict[str, dict[Key, dict[str, Any]]] = {}
    for overlay in [Overlay("base"), *loaded]:
        found: dict[Key, dict[str, Any]] = {}
        for name, (spec, replicas) in sorted(environment(specs, overlay).items()):
            try:
                rendered = render(spec, replicas if replicas is not None else 1)
            except RenderError as exc:
                raise UsageError(f"flow '{name}': {exc}") from None
            config = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": rendered.context["names"]["config_map"]},
                # the spec as data, so a change shows as the fields that changed
                "data": {"flow.yaml": spec},
            }
            for obj in [config, *rendered.objects]:
                found[(obj["kind"], obj["metadata"]["name"])] = obj
        out[overlay.name] = found
    return out


def _checkout(root: Path, ref: str, destination: Path) -> None:
    commit = gitref.commit(root, ref)
    for part in _PARTS:
        try:
            tree = commit.tree / part
        except KeyError:
            continue
        item: Any
        for item in tree.traverse():
            if item.type != "blob" or item.mode == 0o120000:  # no symlinks
                continue
            target = destination / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.data_stream.read())


def changes(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub}: added {_short(new[key])}")
            elif key not in new:
                out.append(f"{sub}: removed (was {_short(old[key])})")
            else:
                out += changes(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            c
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for c in changes(a, b, f"{path}[{i}]")
        ]
    return [] if old == new else [f"{path}: {_short(old)} -> {_short(new)}"]


def _short(value: Any) -> str:
    text = emit.to_json(value).strip() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def diff(root: Path, against: str) -> int:
    before_root = Path(tempfile.mkdtemp(prefix="flowpipe-diff-"))
    try:
        _checkout(root, against, before_root)
        before, after = objects(before_root), objects(root)
    finally:
        import shutil

        shutil.rmtree(before_root, ignore_errors=True)
    lines: list[str] = []
    for env in sorted(set(before) | set(after)):
        old, new = before.get(env, {}), after.get(env, {})
        section = []
        for key in sorted(set(old) | set(new)):
            kind, name = key
            if key not in old:
                section.append(f"+ {kind} {name}")
            elif key not in new:
                section.append(f"- {kind} {name}")
            elif old[key] != new[key]:
                section.append(f"~ {kind} {name}")
                section += [f"    {change}" for change in changes(old[key], new[key])]
        if section:
            lines += [f"## {env}", *section, ""]
    sys.stdout.write("\n".join(lines) if lines else f"no changes to objects against {against}\n")
    return Exit.OK
