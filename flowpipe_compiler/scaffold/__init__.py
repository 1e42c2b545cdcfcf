"""`flowpipe init`: a new repository of flows, ready for pre-commit, CI and Argo CD.

The files are this folder's (a ``dot-`` prefix stands for a leading dot, so packaging keeps
them). ``REPO_URL`` in the Argo CD manifests is replaced by the repository's URL.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _files() -> dict[str, str]:
    out = {}
    for path in sorted(_HERE.rglob("*")):
        relative = path.relative_to(_HERE).as_posix()
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in relative:
            target = "/".join(
                "." + part.removeprefix("dot-") if part.startswith("dot-") else part
                for part in relative.split("/")
            )
            out[target] = path.read_text(encoding="utf-8")
    return out


FILES: dict[str, str] = _files()
"""Every scaffolded file's text by its path in the new repository."""
