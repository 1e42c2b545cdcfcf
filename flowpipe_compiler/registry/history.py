"""Published versions never change: compare the registry with a git base, like `buf breaking`.

A version file present at the base must still be there, byte for byte, under the same
number. The base is ``--against REF``; by default the merge base of HEAD with ``origin/main``
when that exists (a pull request's base), else HEAD (what pre-commit compares staged work
with). Git is read with gitpython; nothing is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowpipe_compiler import gitref
from flowpipe_compiler.diagnostics import Diagnostic, Severity
from flowpipe_compiler.registry import store


@dataclass(frozen=True, slots=True)
class Base:
    ref: str
    commit: Any


def base(root: Path, against: str | None) -> Base | None:
    """The commit to compare with, or None when there is nothing to compare with."""
    import git

    if against:
        return Base(against, gitref.commit(root, against))
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if not repo.head.is_valid():
        return None  # no commit yet: nothing is published
    try:
        merge_base = repo.merge_base("HEAD", "origin/main")
    except git.GitCommandError:
        merge_base = []
    if merge_base:
        return Base("merge base with origin/main", merge_base[0])
    return Base("HEAD", repo.head.commit)


def changed_versions(root: Path, published: Base) -> list[Diagnostic]:
    """Published version files that were edited, deleted or renumbered since ``published``."""
    try:
        tree = published.commit.tree / store.DIRECTORY
    except KeyError:
        return []
    old: dict[str, bytes] = {}
    for item in tree.traverse():
        parts = Path(item.path).parts
        if item.type == "blob" and len(parts) == 3 and store.VERSION_FILE.match(parts[2]):
            old[item.path] = item.data_stream.read()
    out = []
    for path, data in sorted(old.items()):
        current = root / path
        if current.is_file() and current.read_bytes() == data:
            continue
        folder = current.parent
        moved = (
            [
                p.name
                for p in sorted(folder.glob("v*"))
                if p.is_file()
                and p.read_bytes() == data
                and f"{store.DIRECTORY}/{folder.name}/{p.name}" not in old
            ]
            if folder.is_dir()
            else []
        )
        if moved:
            what, hint = f"renumbered to {moved[0]}", "version numbers never change"
        elif current.is_file():
            what, hint = "edited", "publish the change as a new version instead"
        else:
            what, hint = "deleted", "published versions are never deleted; restore it"
        out.append(
            Diagnostic(
                "FP413",
                Severity.ERROR,
                f"published version {path} was {what} (compared with {published.ref})",
                path,
                None,
                hint=hint,
            )
        )
    return out
