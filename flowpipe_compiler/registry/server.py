"""The registry over HTTP, with the original flow-pipe's endpoints, backed by a git branch.

Reads come from the tip of the configured branch (never from a working tree). Each write is
one commit on that branch, made with git plumbing on a private index and published with a
compare-and-swap of the branch ref (``git update-ref REF NEW OLD``): two writers, in this
process or another, can never both get the same version number, and no version is lost.
Writes need ``Authorization: Bearer <token>``; without a configured token the service is
read-only. Serve a bare repository or a dedicated clone: the branch moves under any
checkout of it.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitdb import IStream
from pydantic import BaseModel, Field

from flowpipe_compiler.registry import formats, store
from flowpipe_compiler.registry.compat import Incompatibility, check
from flowpipe_compiler.registry.gittree import GitNode
from flowpipe_compiler.registry.resolve import flows_using

FORMATS = tuple(formats.EXTENSIONS)
AUTHOR = ("flowpipe registry", "registry@flowpipe.invalid")


class Refused(Exception):
    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass
class GitRegistry:
    repo_path: Path
    branch: str = "main"
    max_attempts: int = 50

    def __post_init__(self) -> None:
        import git

        self.repo = git.Repo(self.repo_path)
        self.lock = threading.Lock()
        self.ref = f"refs/heads/{self.branch}"

    def _git(
        self, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
    ) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.repo_path,
            input=stdin,
            capture_output=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
        return done.stdout.decode().strip()

    def tip(self) -> Any:
        try:
            return self.repo.commit(self.ref)
        except Exception:
            raise Refused(
                503, f"branch '{self.branch}' does not exist in {self.repo_path}"
            ) from None

    def registry(self, commit: Any | None = None) -> store.Registry:
        return store.load_tree(GitNode.root(commit or self.tip()))

    def entry(self, schema_id: str, commit: Any | None = None) -> store.Entry:
        entry = self.registry(commit).entries.get(schema_id)
        if entry is None:
            raise Refused(404, f"schema '{schema_id}' not found")
        if entry.broken:
            raise Refused(409, f"schema '{schema_id}' is invalid in the repository")
        return entry

    # -- writes ----------------------------------------------------------------------------

    def create(self, schema_id: str, fmt: str, raw: bytes) -> int:
        with self.lock:
            for _ in range(self.max_attempts):
                tip = self.tip()
                registry = store.load_tree(GitNode.root(tip), only=schema_id)
                try:
                    entry, number = store.next_version(registry, schema_id, fmt, raw)
                except store.Rejected as exc:
                    status = 409 if exc.conflict else 400
                    raise Refused(
                        status, str(exc), [_issue(i) for i in exc.issues] or None
                    ) from None
                entry.active = number
                folder = f"{store.DIRECTORY}/{schema_id}"
                files = {
                    f"{folder}/v{number}{formats.EXTENSIONS[fmt]}": raw,
                    f"{folder}/{store.METADATA}": store.metadata_bytes(entry, explicit_mode=False),
                }
                if self._commit(tip, files, set(), f"schema {schema_id}: add v{number}"):
                    return number
            raise Refused(503, "the branch kept moving; try again")

    def delete(self, schema_id: str) -> None:
        with self.lock:
            for _ in range(self.max_attempts):
                tip = self.tip()
                entry = self.entry(schema_id, tip)
                users = sorted(flows_using(GitNode.root(tip), schema_id))
                if users:
                    raise Refused(409, f"schema '{schema_id}' is used by {', '.join(users)}")
                assert isinstance(entry.path, GitNode)
                paths = {f"{entry.path.path.as_posix()}/{c.name}" for c in entry.path.iterdir()}
                if self._commit(tip, {}, paths, f"schema {schema_id}: delete"):
                    return
            raise Refused(503, "the branch kept moving; try again")

    def _commit(self, tip: Any, files: dict[str, bytes], removed: set[str], message: str) -> bool:
        """Commit ``files`` (and removals) on top of ``tip``; False when the branch moved."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "GIT_INDEX_FILE": str(Path(tmp) / "index"),
                "GIT_AUTHOR_NAME": AUTHOR[0],
                "GIT_AUTHOR_EMAIL": AUTHOR[1],
                "GIT_COMMITTER_NAME": AUTHOR[0],
                "GIT_COMMITTER_EMAIL": AUTHOR[1],
            }
            self._git("read-tree", tip.hexsha, env=env)
            lines = [f"0 {'0' * 40}\t{path}" for path in sorted(removed)]
            for path, data in sorted(files.items()):
                stored = self.repo.odb.store(IStream("blob", len(data), io.BytesIO(data)))
                lines.append(f"100644 {stored.hexsha.decode()}\t{path}")
            self._git("update-index", "--index-info", env=env, stdin="\n".join(lines).encode())
            tree = self._git("write-tree", env=env)
            commit = self._git("commit-tree", tree, "-p", tip.hexsha, "-m", message, env=env)
        try:
            self._git("update-ref", self.ref, commit, tip.hexsha)
        except subprocess.CalledProcessError:
            return False  # another writer moved the branch: start again from the new tip
        return True


class NewSchema(BaseModel):
    schema_id: str = Field(min_length=1, max_length=128)
    format: str = Field(description=f"One of {', '.join(FORMATS)}.")
    raw_schema: str


class Created(BaseModel):
    schema_id: str
    version: int


class Versions(BaseModel):
    schema_id: str
    versions: list[int]
    active: int


class Version(BaseModel):
    schema_id: str
    version: int
    format: str
    raw_schema: str


class Summary(BaseModel):
    schema_id: str
    format: str
    compatibility: str
    active: int
    versions: list[int]
    deprecated: bool


class Candidate(BaseModel):
    raw_schema: str


class Compatibility(BaseModel):
    compatible: bool
    issues: list[dict[str, str]]


def create_app(backend: GitRegistry, token: str | None) -> Any:
    from fastapi import Depends, FastAPI, Header, HTTPException

    app = FastAPI(
        title="flowpipe schema registry",
        version="1",
        description="flow-pipe's schema registry endpoints over a git branch.",
    )

    errors: dict[int | str, dict[str, Any]] = {
        code: {"description": text}
        for code, text in (
            (400, "the schema, its id or its format is invalid"),
            (401, "missing or wrong bearer token"),
            (403, "read-only"),
            (404, "no such schema or version"),
            (409, "refused by the registry"),
            (503, "branch missing or busy"),
        )
    }

    def authorised(authorization: str | None = Header(default=None)) -> None:
        if token is None:
            raise HTTPException(403, "this registry is read-only (no token configured)")
        if authorization != f"Bearer {token}":
            raise HTTPException(401, "a valid bearer token is required")

    def call(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Refused as exc:
            raise HTTPException(exc.status, exc.detail or str(exc)) from None

    def normal_format(name: str) -> str:
        return name.upper().removeprefix("SCHEMA_FORMAT_")

    @app.get("/v1/schemas", response_model=list[Summary], responses=errors)
    def list_schemas() -> list[Summary]:
        registry = call(backend.registry)
        return [
            Summary(
                schema_id=e.schema_id,
                format=e.format,
                compatibility=e.compatibility.value,
                active=e.active,
                versions=sorted(e.versions),
                deprecated=e.deprecated,
            )
            for e in registry.entries.values()
            if not e.broken
        ]

    @app.post(
        "/v1/schemas", response_model=Created, responses=errors, dependencies=[Depends(authorised)]
    )
    def create(new: NewSchema) -> Created:
        fmt = normal_format(new.format)
        version = call(backend.create, new.schema_id, fmt, new.raw_schema.encode())
        return Created(schema_id=new.schema_id, version=version)

    @app.get("/v1/schemas/{schema_id}/versions", response_model=Versions, responses=errors)
    def versions(schema_id: str) -> Versions:
        entry = call(backend.entry, schema_id)
        return Versions(schema_id=schema_id, versions=sorted(entry.versions), active=entry.active)

    @app.get("/v1/schemas/{schema_id}/versions/{version}", response_model=Version, responses=errors)
    def get_version(schema_id: str, version: int) -> Version:
        entry = call(backend.entry, schema_id)
        number = version or entry.active
        if number not in entry.versions:
            raise HTTPException(404, f"schema '{schema_id}' has no version {version}")
        raw = entry.versions[number].read_bytes().decode("utf-8", "replace")
        return Version(schema_id=schema_id, version=number, format=entry.format, raw_schema=raw)

    @app.delete(
        "/v1/schemas/{schema_id}",
        status_code=204,
        responses=errors,
        dependencies=[Depends(authorised)],
    )
    def delete(schema_id: str) -> None:
        call(backend.delete, schema_id)

    @app.post(
        "/v1/schemas/{schema_id}/compatibility", response_model=Compatibility, responses=errors
    )
    def compatibility(schema_id: str, candidate: Candidate) -> Compatibility:
        entry = call(backend.entry, schema_id)
        try:
            body = formats.check(entry.format, candidate.raw_schema.encode())
        except formats.FormatError as exc:
            raise HTTPException(400, f"invalid {entry.format} schema: {exc}") from None
        if entry.format != "JSON":
            return Compatibility(compatible=True, issues=[])
        issues = check(entry.compatibility, body, entry.bodies_to_check())
        return Compatibility(compatible=not issues, issues=[_issue(i) for i in issues])

    return app


def _issue(issue: Incompatibility) -> dict[str, str]:
    return {
        "rule": issue.rule,
        "message": issue.message,
        "new": issue.reader_path,
        "old": issue.writer_path,
    }
