"""A picture of a stack from its offline plan: clouds and components as groups, resources as
nodes, dependencies as edges, the VPN crossing between the clouds drawn bold.

To stay readable for a real stack (over 100 resources), resources of one type inside one
top-level component are one node ("ec2 Subnet x6"), a building block nested in a component
(a private bucket with its access block, encryption, versioning, ...) is one node of its
kind ("storage PrivateS3Bucket"), and edges join those nodes. Mermaid text
needs nothing else; SVG/PNG go through Graphviz (the ``graphviz`` package and its ``dot``):
``python -m offline.picture prod rendered/stack-prod.svg`` renders and checks one (CI does).
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import graphviz
import typer

from offline.recorder import OfflinePlan, RegisteredResource

CLOUDS = {"aws": "AWS", "alicloud": "Alibaba Cloud"}
FORMATS = (".mmd", ".dot", ".svg", ".png")


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # short resource type, e.g. "ec2 Subnet"
    cloud: str  # "aws" | "alicloud"
    group: str  # the id of the component group
    count: int  # resources (or nested building blocks) of that type in that group
    resources: int = 0  # the resources the node stands for

    @property
    def label(self) -> str:
        return f"{self.kind} x{self.count}" if self.count > 1 else self.kind


@dataclass(frozen=True)
class Edge:
    source: str  # built first
    target: str  # built from it
    crosses_clouds: bool


@dataclass
class StackGraph:
    stack: str
    groups: dict[str, str] = field(default_factory=dict)  # group id -> label
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def node_labelled(self, label: str, component: str = "") -> Node:
        """The one node of ``label`` (in the group whose label starts with ``component``)."""
        found = [
            n
            for n in self.nodes.values()
            if n.kind == label and self.groups.get(n.group, "").startswith(component)
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} nodes labelled {label!r}")
        return found[0]

    def has_edge(self, source: Node, target: Node) -> bool:
        return any(e.source == source.id and e.target == target.id for e in self.edges)

    def layout(self) -> Iterator[tuple[str, str, list[tuple[str, str, list[Node]]]]]:
        """Per cloud: (cloud, its label, [(group id, group label, its nodes by label)]),
        groups with no node in that cloud left out."""
        for cloud, cloud_label in CLOUDS.items():
            groups = []
            for group_id, group_label in sorted(self.groups.items()):
                members = sorted(
                    (n for n in self.nodes.values() if n.group == group_id and n.cloud == cloud),
                    key=lambda n: n.label,
                )
                if members:
                    groups.append((group_id, group_label, members))
            yield cloud, cloud_label, groups


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _short_type(type_token: str) -> str:
    """``aws:ec2/vpnConnection:VpnConnection`` -> ``ec2 VpnConnection``."""
    package, module, name = type_token.split(":")
    module = module.split("/")[0]
    return f"{package if module == 'index' else module} {name}"


def build_graph(plan: OfflinePlan) -> StackGraph:
    by_urn = {r.urn: r for r in plan.resources}

    def components(r: RegisteredResource) -> list[RegisteredResource]:
        """The components above ``r``, nearest first."""
        found, cursor = [], by_urn.get(r.parent)
        while cursor is not None:
            if not cursor.custom:
                found.append(cursor)
            cursor = by_urn.get(cursor.parent)
        return found

    def top_component(r: RegisteredResource) -> RegisteredResource | None:
        return (components(r) or [None])[-1]

    def shown_as(r: RegisteredResource) -> tuple[str, str]:
        """(type drawn, what one of it is): a nested component's resources draw as it."""
        above = components(r)
        return (above[0].type, above[0].urn) if len(above) > 1 else (r.type, r.urn)

    drawn = [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    homes = {r.urn: top_component(r) for r in drawn}
    own_cloud = {r.urn: p if (p := r.type.split(":")[0]) in CLOUDS else None for r in drawn}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for r in drawn:
        if own_cloud[r.urn] and homes[r.urn] is not None:
            votes[homes[r.urn].urn][own_cloud[r.urn]] += 1
    # a component's main cloud, for its cloud-less resources (random passwords, IDs)
    majority = {urn: counter.most_common(1)[0][0] for urn, counter in votes.items()}

    graph = StackGraph(plan.stack)
    members: dict[tuple[str, str, str], list[str]] = {}  # (cloud, group, type) -> URNs
    instances: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in drawn:
        home = homes[r.urn]
        cloud = own_cloud[r.urn] or majority.get(home.urn if home else "", "aws")
        home_name = home.name if home else "stack"
        group_id = _slug(f"{cloud}_{home_name}")
        kind = home.type.split(":")[-1] if home else "resources"
        graph.groups[group_id] = f"{kind} {home_name}"
        drawn_type, instance = shown_as(r)
        members.setdefault((cloud, group_id, drawn_type), []).append(r.urn)
        instances[(cloud, group_id, drawn_type)].add(instance)
    node_of: dict[str, str] = {}
    # numbered in a fixed order: registration order varies with when outputs resolve
    for i, (key, urns) in enumerate(sorted(members.items()), start=1):
        cloud, group_id, type_token = key
        node = Node(
            f"n{i}", _short_type(type_token), cloud, group_id, len(instances[key]), len(urns)
        )
        graph.nodes[node.id] = node
        node_of |= dict.fromkeys(urns, node.id)

    seen: set[tuple[str, str]] = set()
    for r in sorted(drawn, key=lambda r: r.urn):
        target = node_of[r.urn]
        for dep in sorted(r.dependencies):  # the SDK sends them as a set
            source = node_of.get(dep)
            if source is None or source == target or (source, target) in seen:
                continue
            seen.add((source, target))
            crosses = graph.nodes[source].cloud != graph.nodes[target].cloud
            graph.edges.append(Edge(source, target, crosses))
    return graph


def to_mermaid(graph: StackGraph) -> str:
    lines = ["flowchart LR"]
    for cloud, cloud_label, groups in graph.layout():
        lines.append(f'  subgraph {cloud}["{cloud_label}"]')
        for group_id, group_label, members in groups:
            lines.append(f'    subgraph {group_id}["{group_label}"]')
            lines += [f'      {n.id}["{n.label}"]' for n in members]
            lines.append("    end")
        lines.append("  end")
    for e in graph.edges:
        arrow = " ==>|VPN| " if e.crosses_clouds else " --> "
        lines.append(f"  {e.source}{arrow}{e.target}")
    return "\n".join(lines) + "\n"


def to_dot(graph: StackGraph) -> graphviz.Digraph:
    dot = graphviz.Digraph(f"railyard-{graph.stack}")
    # newrank: rank across nested clusters (dot's default ranking fails on this graph)
    dot.attr(
        rankdir="LR",
        fontname="Helvetica",
        compound="true",
        newrank="true",
        label=f"stack {graph.stack}",
    )
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica")
    for cloud, cloud_label, groups in graph.layout():
        with dot.subgraph(name=f"cluster_{cloud}") as c:
            fill = "#eef3fb" if cloud == "aws" else "#fdf1e6"
            c.attr(label=cloud_label, style="filled", fillcolor=fill)
            for group_id, group_label, members in groups:
                with c.subgraph(name=f"cluster_{group_id}") as g:
                    g.attr(label=group_label, style="rounded,filled", fillcolor="white")
                    for n in members:
                        g.node(n.id, n.label)
    for e in graph.edges:
        if e.crosses_clouds:
            dot.edge(e.source, e.target, label="VPN", penwidth="2.5", color="#c0392b")
        else:
            dot.edge(e.source, e.target, color="#7f8c8d")
    return dot


class DiagramError(Exception):
    pass


def write(graph: StackGraph, path: Path) -> Path:
    """Write the picture; the suffix picks the format (.mmd, .dot, .svg, .png)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DiagramError(f"{path}: unknown diagram format; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mmd":
        path.write_text(to_mermaid(graph))
    elif suffix == ".dot":
        path.write_text(to_dot(graph).source)
    else:
        if shutil.which("dot") is None:
            raise DiagramError(
                f"{path}: SVG/PNG need Graphviz's `dot` (apt install graphviz, brew install "
                "graphviz); .mmd and .dot need nothing"
            )
        path.write_bytes(to_dot(graph).pipe(format=suffix.lstrip(".")))
    return path


SVG_TEXT = "{http://www.w3.org/2000/svg}text"


def missing_labels(graph: StackGraph, svg: str) -> set[str]:
    """Labels of the graph (nodes, clouds, the VPN edge) that an SVG of it does not show."""
    texts = {t.text for t in ET.fromstring(svg).iter(SVG_TEXT)}
    wanted = {n.label for n in graph.nodes.values()} | set(CLOUDS.values()) | {"VPN"}
    return wanted - texts


def main(
    stack: Annotated[str, typer.Argument(help="Stack: dev or prod.")],
    svg: Annotated[Path, typer.Argument(help="SVG file to render with Graphviz and check.")],
) -> None:
    """Render the stack picture as SVG through Graphviz and check every node is in it."""
    from offline.runner import run_offline

    graph = build_graph(run_offline(stack))
    try:
        missing = missing_labels(graph, write(graph, svg).read_text())
    except DiagramError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    if missing:
        typer.echo(f"{svg}: Graphviz dropped {sorted(missing)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{svg}: {len(graph.nodes)} nodes rendered")


if __name__ == "__main__":
    typer.run(main)
