"""A compiled flow drawn as Mermaid or Graphviz DOT: stages as boxes, queues as cylinders."""

from __future__ import annotations

from typing import Any


def _nodes(spec: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(id, label lines joined by \\n, shape) for each node, and the edges between ids."""
    queue_ids = {q["name"]: f"q{i}" for i, q in enumerate(spec["queues"])}
    nodes = []
    edges = []
    for i, stage in enumerate(spec["stages"]):
        threads = f" x{stage['threads']}" if stage["threads"] > 1 else ""
        nodes.append((f"s{i}", f"{stage['name']}\n{stage['type']}{threads}", "stage"))
        if "input_queue" in stage:
            edges.append((queue_ids[stage["input_queue"]], f"s{i}"))
        if "output_queue" in stage:
            edges.append((f"s{i}", queue_ids[stage["output_queue"]]))
    for queue in spec["queues"]:
        nodes.append(
            (queue_ids[queue["name"]], f"{queue['name']}\ncapacity {queue['capacity']}", "queue")
        )
    return nodes, sorted(edges)


def mermaid(spec: dict[str, Any]) -> str:
    nodes, edges = _nodes(spec)
    out = ["flowchart LR", f"  %% flow {spec['name']} ({spec['execution']['mode']})"]
    for node_id, label, shape in nodes:
        text = label.replace("\n", "<br/>")
        out.append(f'  {node_id}["{text}"]' if shape == "stage" else f'  {node_id}[("{text}")]')
    out.extend(f"  {a} --> {b}" for a, b in edges)
    return "\n".join(out) + "\n"


def dot(spec: dict[str, Any]) -> str:
    nodes, edges = _nodes(spec)
    out = [f'digraph "{spec["name"]}" {{', "  rankdir=LR;"]
    for node_id, label, shape in nodes:
        kind = "box" if shape == "stage" else "cylinder"
        text = label.replace("\n", "\\n")
        out.append(f'  {node_id} [label="{text}", shape={kind}];')
    out.extend(f"  {a} -> {b};" for a, b in edges)
    out.append("}")
    return "\n".join(out) + "\n"
