"""A git tree read like a directory, so the registry loads from a commit as from disk.

Only what the registry needs: ``/``, ``name``, ``is_dir``, ``is_file``, ``iterdir``,
``read_bytes``, ``relative_to``. Symlinks in the tree are neither files nor folders, so
nothing is ever followed out of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

_SYMLINK = 0o120000


class GitNode:
    def __init__(self, obj: Any, path: PurePosixPath) -> None:
        self.obj = obj
        self.path = path

    @classmethod
    def root(cls, commit: Any) -> GitNode:
        return cls(commit.tree, PurePosixPath("."))

    @property
    def name(self) -> str:
        return self.path.name

    def __truediv__(self, part: str) -> GitNode:
        child = None
        if self.is_dir():
            try:
                child = self.obj / part
            except KeyError:
                child = None
        return GitNode(child, self.path / part)

    def __str__(self) -> str:
        return self.path.as_posix()

    def is_dir(self) -> bool:
        return self.obj is not None and self.obj.type == "tree"

    def is_file(self) -> bool:
        return self.obj is not None and self.obj.type == "blob" and self.obj.mode != _SYMLINK

    def iterdir(self) -> Iterator[GitNode]:
        for child in self.obj:
            yield GitNode(child, self.path / child.name)

    def read_bytes(self) -> bytes:
        data: bytes = self.obj.data_stream.read()
        return data

    def relative_to(self, other: GitNode) -> PurePosixPath:
        return self.path.relative_to(other.path)
