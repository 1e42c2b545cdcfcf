"""Runtime settings: documented defaults, overridden by environment and command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Settings:
    grace_period_s: float = 25.0
    """Seconds to drain after SIGTERM before giving up (exit 1). Below Kubernetes' default
    terminationGracePeriodSeconds of 30 so the drain finishes before SIGKILL.
    Env: FLOWPIPE_GRACE_PERIOD_S."""
    batch_size: int = 1024
    """Most records moved in one hand-over (a queue's batches are also at most its
    capacity). Larger batches pay the lock and wake-up less often: with capacity 1024,
    1024-record batches move 17 M records/s here, 256-record ones 10 M.
    Env: FLOWPIPE_BATCH_SIZE."""
    http_port: int | None = 9090
    """Port of /healthz, /readyz and /metrics; 0 picks a free port, None turns the server off.
    Env: FLOWPIPE_HTTP_PORT ('off' for None)."""
    http_host: str = "0.0.0.0"
    """Address the HTTP server binds. Env: FLOWPIPE_HTTP_HOST."""
    log_level: str = "INFO"
    """Level of the JSON logs on stderr. Env: FLOWPIPE_LOG_LEVEL."""
    dead_letter_dir: str = "."
    """Directory of the default dead-letter files (<flow>.<stage>.dead-letter.jsonl).
    Env: FLOWPIPE_DEAD_LETTER_DIR."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"FLOWPIPE_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = parse_setting(f.name, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def parse_setting(name: str, raw: str) -> object:
    """A setting's value from its text form (environment variable or command line)."""
    try:
        if name == "http_port":
            return None if raw.lower() in ("off", "none", "") else int(raw)
        if name == "log_level":
            if raw.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
                raise ValueError("use DEBUG, INFO, WARNING or ERROR")
            return raw.upper()
        if name == "grace_period_s":
            return float(raw)
        if name == "batch_size":
            value = int(raw)
            if value < 1:
                raise ValueError("must be at least 1")
            return value
    except ValueError as exc:
        raise SettingsError(f"FLOWPIPE_{name.upper()}={raw!r}: {exc}") from None
    return raw


class SettingsError(Exception):
    pass
