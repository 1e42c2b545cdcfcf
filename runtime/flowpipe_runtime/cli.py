"""``flowpipe-runtime SPEC``: run one compiled flow until it ends or is told to stop.

Exit codes: 0 the flow completed (job) or drained cleanly (streaming, on SIGTERM/SIGINT);
1 a stage failed, or draining outlasted the grace period; 2 bad usage, an unreadable or
unsupported spec, or a start-up error (unknown stage type, bad config, a stage that cannot
open its connection or table); 130 a second signal
while draining; 143 a job told to stop before its sources ended (Kubernetes retries it).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from types import FrameType
from typing import Any

from flowpipe_runtime import __version__

log = logging.getLogger("flowpipe.runtime")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowpipe-runtime", description="Run one compiled flowpipe flow."
    )
    parser.add_argument("spec", help="compiled spec (YAML or JSON), e.g. /config/flow.yaml")
    parser.add_argument(
        "--http-port", help="port of /healthz, /readyz, /metrics; 0 = any, off = none"
    )
    parser.add_argument("--grace-period", type=float, help="seconds to drain after SIGTERM")
    parser.add_argument("--batch-size", type=int, help="records per hand-over between stages")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from flowpipe_runtime.settings import Settings, SettingsError, parse_setting

    given = {
        "grace_period_s": args.grace_period,
        "batch_size": args.batch_size,
        "log_level": args.log_level,
        "http_port": args.http_port,
    }
    from flowpipe_runtime.observe import setup_logging
    from flowpipe_runtime.spec import SpecError, load

    setup_logging("INFO")  # until the settings, which may come from the spec, are known
    try:
        spec = load(args.spec)
    except SpecError as exc:
        log.error(str(exc))
        return 2
    # The flow's env is the process's environment too; variables set outside win.
    env = {**spec["env"], **os.environ}
    try:
        overrides = {k: parse_setting(k, str(v)) for k, v in given.items() if v is not None}
        settings = Settings.from_env(env, **overrides)
    except SettingsError as exc:
        log.error(str(exc))
        return 2
    setup_logging(settings.log_level)
    return _run(spec, env, settings)


def _run(spec: dict[str, Any], env: dict[str, str], settings: Any) -> int:
    from flowpipe_runtime.engine import Flow
    from flowpipe_runtime.observe import HealthServer
    from flowpipe_runtime.registry import StartupError

    try:
        flow = Flow(spec, settings, env)
    except StartupError as exc:
        log.error(str(exc))
        return 2
    is_job = spec["execution"]["mode"] == "EXECUTION_MODE_JOB"
    server = None
    if settings.http_port is not None:
        try:
            server = HealthServer(settings.http_host, settings.http_port, flow, lambda: flow.ready)
        except OSError as exc:
            log.error(f"cannot serve health and metrics on port {settings.http_port}: {exc}")
            return 2
        server.start()
    signalled: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signalled:
            log.error("second signal while draining: exiting now", extra={"signal": signum})
            os._exit(130)
        signalled.append(signum)
        flow.stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    started = time.monotonic()
    log.info(
        "flow starting",
        extra={
            "flow": flow.name,
            "mode": spec["execution"]["mode"],
            "stages": len(flow.stages),
            "http_port": server.port if server else None,
        },
    )
    try:
        flow.start()
        drained = _wait(flow, settings.grace_period_s)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.stop()
    summary = flow.summary()
    log.info(
        "flow finished",
        extra={"flow": flow.name, "seconds": round(time.monotonic() - started, 3), **summary},
    )
    if flow.failures and flow.failures == flow.startup_failures:
        return 2  # nothing ran: a configuration or connection problem, named in the log
    if flow.failures or not drained:
        return 1
    if is_job and signalled:
        return 143
    return 0


def _wait(flow: Any, grace: float) -> bool:
    """Wait for the flow to end; once it drains, give it ``grace`` seconds at most."""
    while not flow.wait(0.2):
        since = flow.stopping_since
        if since is not None and time.monotonic() - since > grace:
            log.error(f"draining took longer than the grace period of {grace}s; giving up")
            flow.abort()
            flow.wait()
            return False
    return True
