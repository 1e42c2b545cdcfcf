from __future__ import annotations

from pathlib import Path

from flowpipe_compiler.commands import Exit
from flowpipe_compiler.diagnostics import FlowpipeError


def serve(repo: Path, branch: str, host: str, port: int, token: str | None) -> int:
    try:
        import uvicorn

        from flowpipe_compiler.registry.server import GitRegistry, create_app
    except ImportError as exc:
        raise FlowpipeError(
            f"the registry service needs extra packages ({exc.name}): "
            "pip install 'flowpipe[registry-server]'"
        ) from None
    import git

    try:
        backend = GitRegistry(repo, branch)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise FlowpipeError(f"{repo} is not a git repository") from None
    uvicorn.run(create_app(backend, token), host=host, port=port, log_level="warning")
    return Exit.OK
