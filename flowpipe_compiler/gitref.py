"""Finding a commit for ``--against REF``, with the message a shallow CI clone needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowpipe_compiler.diagnostics import UsageError


def commit(root: Path, ref: str) -> Any:
    import git

    try:
        return git.Repo(root).commit(ref)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"--against {ref}: {root} is not a git repository") from None
    except (git.BadName, ValueError, git.GitCommandError):
        raise UsageError(
            f"--against {ref}: no such commit in this clone. In a shallow CI checkout "
            f"fetch it first, e.g. `git fetch --depth=50 origin {ref}`"
        ) from None
