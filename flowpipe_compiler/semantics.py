"""What the schema cannot say: names, wiring, cycles, and lifecycle rules.

Each check reads the raw flow defensively (a value of the wrong type has already been
reported by the schema check and is skipped here), so one run reports everything.
"""

from __future__ import annotations

import re
from typing import Any

from flowpipe_compiler import cron
from flowpipe_compiler.catalogue import Kind
from flowpipe_compiler.findings import Findings, did_you_mean
from flowpipe_compiler.normalize import canonical

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CRONJOB_NAME_MAX = 52
"""Kubernetes appends an 11-character suffix to a CronJob's Job names (63 - 11)."""


def _items(flow: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = flow.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _str(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) else None


def flow_name(findings: Findings, flow: dict[str, Any], stem: str) -> str:
    """The flow's name: its ``name`` field, or the file name's stem (checked the same way)."""
    name = _str(flow, "name")
    if name is None and "name" not in flow:
        name = stem
        if not DNS1123_LABEL.match(stem) or len(stem) > 63:
            findings.add(
                "FP201",
                f"the flow has no name and its file name {stem!r} is not a DNS-1123 label",
                (),
                hint="add 'name:' with lower-case letters, digits and '-' "
                "(it names Kubernetes objects)",
            )
    cron_set = isinstance(_dict(flow, "kubernetes_options").get("cron"), dict)
    if name and cron_set and len(name) > CRONJOB_NAME_MAX:
        findings.add(
            "FP201",
            f"flow name is {len(name)} characters; "
            f"a CronJob's name may have at most {CRONJOB_NAME_MAX}",
            ("name",) if "name" in flow else (),
            hint="shorten the name",
        )
    return name or stem


def _dict(mapping: Any, key: str) -> dict[str, Any]:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, dict) else {}


def check(findings: Findings, flow: dict[str, Any], kinds: dict[int, Kind]) -> None:
    stages = _items(flow, "stages")
    queues = _items(flow, "queues")
    _unique(findings, stages, "stages", "FP203", "stage")
    queue_names = _unique(findings, queues, "queues", "FP204", "queue")
    producers, consumers = _wiring(findings, stages, queue_names, kinds)
    for index, queue in queues:
        name = _str(queue, "name")
        if name is None:
            continue
        for code, role, field, connected in (
            ("FP209", "producer", "output_queue", producers),
            ("FP210", "consumer", "input_queue", consumers),
        ):
            if name not in connected:
                findings.add(
                    code,
                    f"queue '{name}' has no {role}: no stage has {field}: {name}",
                    ("queues", index, "name"),
                    hint=f"connect a stage's {field} to it, or remove the queue",
                )
    _cycles(findings, stages)
    _secrets(findings, flow)
    _lifecycle(findings, flow)
    _pinning(findings, flow, {n for _, s in stages if (n := _str(s, "name"))})


_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@")


def _secrets(findings: Findings, flow: dict[str, Any]) -> None:
    """No password in clear in env or a stage's config, and no variable both in env and
    secret_env."""
    env, secret_env = _dict(flow, "env"), _dict(flow, "secret_env")
    places: list[tuple[tuple[str | int, ...], Any]] = [(("env", k), v) for k, v in env.items()]
    for index, stage in _items(flow, "stages"):
        places += [(("stages", index, "config", k), v) for k, v in _dict(stage, "config").items()]
    no_clear_passwords(findings, places)
    for name in sorted(env.keys() & secret_env.keys()):
        findings.add(
            "FP306",
            f"'{name}' is set both in env and in secret_env",
            ("secret_env", name),
            hint="keep one: secret_env for secrets, env for the rest",
        )


def no_clear_passwords(findings: Findings, places: list[tuple[tuple[str | int, ...], Any]]) -> None:
    """FP305 for each value that is a URL carrying ``user:password@`` (flows and overlays)."""
    for path, value in places:
        if isinstance(value, str) and _CREDENTIALS.match(value):
            findings.add(
                "FP305",
                "a password in clear: this URL carries user:password@, and would be committed "
                "and rendered into the manifests",
                path,
                hint="drop the password from the URL and put it in the flow's secret_env, e.g. "
                "PGPASSWORD: {secret: db, key: password} (REDIS_PASSWORD, NATS_PASSWORD, "
                "AMQP_PASSWORD for the other connectors)",
            )


def _unique(
    findings: Findings, items: list[tuple[int, dict[str, Any]]], key: str, code: str, noun: str
) -> set[str]:
    seen: dict[str, int] = {}
    for index, item in items:
        name = _str(item, "name")
        if name is None:
            continue
        if name in seen:
            first = findings.doc.locate((key, seen[name], "name"))
            findings.add(
                code,
                f"{noun} name '{name}' is already used (line {first.line})",
                (key, index, "name"),
                hint=f"give each {noun} a unique name",
            )
        else:
            seen[name] = index
    return set(seen)


_FORBIDDEN_QUEUE = {"source": ("input_queue", "FP212"), "sink": ("output_queue", "FP213")}


def _wiring(
    findings: Findings,
    stages: list[tuple[int, dict[str, Any]]],
    queue_names: set[str],
    kinds: dict[int, Kind],
) -> tuple[set[str], set[str]]:
    producers: set[str] = set()
    consumers: set[str] = set()
    for index, stage in stages:
        name = _str(stage, "name") or f"#{index}"
        for field, used in (("input_queue", consumers), ("output_queue", producers)):
            queue = _str(stage, field)
            if queue is None:
                continue
            used.add(queue)
            if queue not in queue_names:
                hint = did_you_mean(queue, queue_names)
                findings.add(
                    "FP208",
                    f"stage '{name}' uses queue '{queue}', which is not defined",
                    ("stages", index, field),
                    hint=hint or f"add it under queues: - name: {queue}",
                )
        kind = kinds.get(index)
        stype = _str(stage, "type")
        forbidden = _FORBIDDEN_QUEUE.get(kind or "")
        if forbidden and forbidden[0] in stage:
            field, code = forbidden
            findings.add(
                code,
                f"stage '{name}' is a {kind} ({stype}) and cannot have an {field}",
                ("stages", index, field),
                at_key=True,
                hint=f"remove {field}, or use a transform type",
            )
        needs = {
            "source": ("output_queue",),
            "transform": ("input_queue", "output_queue"),
            "sink": ("input_queue",),
        }.get(kind or "", ())
        missing = [f for f in needs if f not in stage]
        if missing:
            findings.add(
                "FP218",
                f"stage '{name}' is a {kind} ({stype}) and needs {' and '.join(missing)}",
                ("stages", index),
                hint=f"add {missing[0]}: <queue name>",
            )
    return producers, consumers


def _cycles(findings: Findings, stages: list[tuple[int, dict[str, Any]]]) -> None:
    """Report each cycle once, at the first stage (in file order) that is on it."""
    readers: dict[str, list[int]] = {}
    for index, stage in stages:
        queue = _str(stage, "input_queue")
        if queue is not None:
            readers.setdefault(queue, []).append(index)
    by_index = dict(stages)
    state: dict[int, int] = {}  # 1 = on the current path, 2 = done
    reported: set[frozenset[int]] = set()

    for start, _ in stages:
        if state.get(start):
            continue
        path: list[int] = []
        # Iterative DFS: each frame is (stage index, iterator over successor stages).
        stack = [(start, iter(readers.get(_str(by_index[start], "output_queue") or "", [])))]
        state[start] = 1
        path.append(start)
        while stack:
            node, successors = stack[-1]
            nxt = next(successors, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(nxt) == 1:
                loop = path[path.index(nxt) :]
                key = frozenset(loop)
                if key not in reported:
                    reported.add(key)
                    _report_cycle(findings, by_index, loop)
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                out = _str(by_index[nxt], "output_queue") or ""
                stack.append((nxt, iter(readers.get(out, []))))


def _report_cycle(findings: Findings, stages: dict[int, dict[str, Any]], loop: list[int]) -> None:
    first = min(loop)
    loop = loop[loop.index(first) :] + loop[: loop.index(first)]
    steps = []
    for index in loop:
        steps.append(_str(stages[index], "name") or f"#{index}")
        steps.append(f"({_str(stages[index], 'output_queue')})")
    steps.append(_str(stages[first], "name") or f"#{first}")
    findings.add(
        "FP211",
        "stages form a cycle: " + " -> ".join(steps),
        ("stages", first, "output_queue"),
        hint="a flow is a pipeline; break the loop",
    )


def _lifecycle(findings: Findings, flow: dict[str, Any]) -> None:
    mode = canonical("ExecutionMode", _str(_dict(flow, "execution"), "mode"))
    is_job = mode == "EXECUTION_MODE_JOB"
    options = _dict(flow, "kubernetes_options")
    if "cron" in options and not is_job:
        findings.add(
            "FP214",
            "kubernetes_options.cron needs execution.mode: EXECUTION_MODE_JOB",
            ("kubernetes_options", "cron"),
            at_key=True,
            hint="set execution.mode to EXECUTION_MODE_JOB, or remove cron",
        )
    cron_options = _dict(options, "cron")
    schedule = _str(cron_options, "schedule")
    if schedule is not None and (why := cron.problem(schedule)):
        findings.add(
            "FP215",
            f"invalid cron schedule {schedule!r}: {why}",
            ("kubernetes_options", "cron", "schedule"),
            hint="write 'minute hour day-of-month month day-of-week', e.g. '0 3 * * *'",
        )
    zone = _str(cron_options, "time_zone")
    if zone is not None and not _known_zone(zone):
        findings.add(
            "FP215",
            f"unknown time zone {zone!r}",
            ("kubernetes_options", "cron", "time_zone"),
            hint=did_you_mean(zone, _zones()) or "use an IANA name such as 'Europe/Berlin'",
        )
    kind = canonical("StreamingWorkloadKind", _str(options, "streaming_workload_kind"))
    if kind == "STREAMING_WORKLOAD_KIND_DAEMONSET" and is_job:
        findings.add(
            "FP216",
            "a DaemonSet runs a streaming flow; this flow is a job",
            ("kubernetes_options", "streaming_workload_kind"),
            hint="remove streaming_workload_kind, or use execution.mode: EXECUTION_MODE_STREAMING",
        )


def _zones() -> set[str]:
    import zoneinfo

    return zoneinfo.available_timezones()


def _known_zone(zone: str) -> bool:
    return zone in _zones() or zone == "UTC"


def _pinning(findings: Findings, flow: dict[str, Any], stage_names: set[str]) -> None:
    pinning = _dict(_dict(flow, "kubernetes"), "cpu_pinning")
    for stage in pinning:
        if stage not in stage_names:
            findings.add(
                "FP217",
                f"cpu_pinning names stage '{stage}', which does not exist",
                ("kubernetes", "cpu_pinning", stage),
                at_key=True,
                hint=did_you_mean(stage, stage_names) or "use a stage name of this flow",
            )
