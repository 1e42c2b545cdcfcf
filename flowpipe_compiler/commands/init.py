"""`flowpipe init [DIR]`: scaffold a repository of flows, then compile it.

It never overwrites: if any file it would write exists, it writes nothing and says which.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from flowpipe_compiler.commands import Exit
from flowpipe_compiler.commands.compile import compile_repo
from flowpipe_compiler.diagnostics import UsageError
from flowpipe_compiler.render.kube_schema import DEFAULT_KUBE_VERSION
from flowpipe_compiler.scaffold import FILES


def init(target: Path, repo_url: str) -> int:
    clashes = sorted(name for name in FILES if (target / name).exists())
    if clashes:
        raise UsageError(
            f"{target.as_posix()} already has {', '.join(clashes)}; nothing was written. "
            "Run flowpipe init in a new or empty directory."
        )
    for name, text in FILES.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("REPO_URL", repo_url), encoding="utf-8")
    if not (target / ".git").exists() and shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(target)], check=True)
    code = compile_repo(target, target / "rendered", [], DEFAULT_KUBE_VERSION, False, "all")
    if code != Exit.OK:
        return code
    sys.stdout.write(
        f"A repository of flows in {target.as_posix()}. Next:\n"
        "  flowpipe validate            check the flows\n"
        "  flowpipe compile             render rendered/ after each change, and commit it\n"
        "  pre-commit install           the same checks on every commit\n"
        "  kubectl apply -f deploy/argocd/applicationset.yaml   deploy with Argo CD\n"
    )
    return Exit.OK
