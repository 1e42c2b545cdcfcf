"""`flowpipe argocd generate|parameters`: the Argo CD Config Management Plugin's commands.

``generate`` prints only Kubernetes objects (a YAML stream) on stdout and everything else on
stderr. Output is written in one piece after every check passed: on any error stdout stays
empty and the exit code is non-zero, because an empty stream that Argo CD took for success
would prune the application. It needs neither ``.git`` nor the network.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import orjson

from flowpipe_compiler import emit
from flowpipe_compiler.argocd import PARAMETERS, request
from flowpipe_compiler.commands import Exit
from flowpipe_compiler.commands.compile import check_object, load_repo
from flowpipe_compiler.render import kube_schema, manifests
from flowpipe_compiler.render.objects import RenderError
from flowpipe_compiler.reporters import REPORTERS


def parameters() -> int:
    """The parameter announcement (``parameters.dynamic`` in plugin.yaml)."""
    sys.stdout.write(orjson.dumps(PARAMETERS).decode() + "\n")
    return Exit.OK


def generate(root: Path, environ: Mapping[str, str]) -> int:
    wanted = request(environ)
    version = kube_schema.newest_bundled(wanted.kube_version)
    if version != wanted.kube_version:
        sys.stderr.write(
            f"flowpipe: Kubernetes {wanted.kube_version} is newer than the bundled schemas; "
            f"checking objects against {version}\n"
        )
    envs = [wanted.environment] if wanted.environment else []
    specs, loaded, by_name, problems = load_repo(root, envs)
    if problems:
        sys.stderr.write(REPORTERS["text"](problems))
        return Exit.FINDINGS
    chosen = wanted.select(list(specs))
    overlay = loaded[0] if loaded else None
    try:
        objects = manifests.objects(specs, overlay, chosen, wanted.namespace)
        for obj in objects:
            check_object(by_name[obj["metadata"]["labels"]["flowpipe.io/flow-name"]], obj, version)
    except (RenderError, kube_schema.UnknownKind) as exc:
        sys.stderr.write(f"flowpipe: error: {exc}\n")
        return Exit.FINDINGS
    invalid = [result for result in by_name.values() if result.errors]
    if invalid:
        sys.stderr.write(REPORTERS["text"](invalid))
        return Exit.FINDINGS
    sys.stdout.write(emit.to_yaml_stream(objects))
    sys.stderr.write(
        f"flowpipe: {wanted.app or 'application'}: {len(chosen)} flow(s), "
        f"environment {wanted.environment or '(base)'}, {len(objects)} objects\n"
    )
    return Exit.OK
