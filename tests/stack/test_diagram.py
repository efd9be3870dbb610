"""The picture of prod: the key nodes and edges, readable size, and what README embeds."""

from pathlib import Path

import pytest

from offline import picture
from offline.picture import DiagramError, build_graph, missing_labels, to_dot, to_mermaid, write
from tests.harness import plan_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    return build_graph(plan_for("prod"))


def test_resources_are_grouped_not_dumped(graph):
    plan = plan_for("prod")
    drawn = [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert len(graph.nodes) < len(drawn) * 0.65
    assert sum(n.resources for n in graph.nodes.values()) == len(drawn)  # each drawn once
    buckets = [n for n in graph.nodes.values() if n.kind == "storage PrivateS3Bucket"]
    assert sum(n.count for n in buckets) == len(plan.of_type("railyard:storage:PrivateS3Bucket"))


def test_key_nodes_sit_in_their_cloud_and_component(graph):
    expected = {
        "ec2 Vpc": ("aws", "AwsNetwork"),
        "ec2 VpnConnection": ("aws", "HybridVpn"),
        "cloudfront Distribution": ("aws", "PwaAwsSite"),
        "vpn Gateway": ("alicloud", "HybridVpn"),
        "vpn Connection": ("alicloud", "HybridVpn"),
        "cdn DomainNew": ("alicloud", "PwaChinaSite"),
        "ess ScalingGroup": ("alicloud", "AndroidBuildFarm"),
        "nlb LoadBalancer": ("alicloud", "AndroidBuildFarm"),
    }
    for label, (cloud, component) in expected.items():
        node = graph.node_labelled(label)
        assert node.cloud == cloud and graph.groups[node.group].startswith(component), label
    assert graph.node_labelled("ec2 VpnConnection").label == "ec2 VpnConnection x2"


def test_dependencies_are_edges_and_the_vpn_crosses_the_clouds(graph):
    n = graph.node_labelled
    assert graph.has_edge(n("ec2 Vpc"), n("ec2 VpnGateway"))
    assert graph.has_edge(n("ec2 VpnGateway"), n("ec2 VpnConnection"))
    assert graph.has_edge(n("storage PrivateS3Bucket", "PwaAwsSite"), n("cloudfront Distribution"))
    # AWS customer gateways are the Alibaba gateway's IPs, Alibaba's are the AWS tunnels'
    assert graph.has_edge(n("vpn Gateway"), n("ec2 CustomerGateway"))
    assert graph.has_edge(n("ec2 VpnConnection"), n("vpn CustomerGateway"))
    crossing = {(e.source, e.target) for e in graph.edges if e.crosses_clouds}
    assert (n("vpn Gateway").id, n("ec2 CustomerGateway").id) in crossing
    assert all(graph.nodes[s].cloud != graph.nodes[t].cloud for s, t in crossing)


def test_mermaid_has_clouds_components_and_a_bold_vpn_edge(graph):
    text = to_mermaid(graph)
    assert text.startswith("flowchart LR\n")
    assert 'subgraph aws["AWS"]' in text and 'subgraph alicloud["Alibaba Cloud"]' in text
    vpn = graph.node_labelled("vpn Gateway").id
    cgw = graph.node_labelled("ec2 CustomerGateway").id
    assert f"  {vpn} ==>|VPN| {cgw}\n" in text


def test_dot_source_has_every_node_both_clouds_and_a_bold_red_vpn(graph):
    # what Graphviz gets; rendering it is `python -m offline.picture` (CI, with Graphviz)
    source = to_dot(graph).source
    for node in graph.nodes.values():
        assert f'{node.id} [label="{node.label}"]' in source
    assert "label=AWS" in source and 'label="Alibaba Cloud"' in source
    vpn = graph.node_labelled("vpn Gateway").id
    cgw = graph.node_labelled("ec2 CustomerGateway").id
    assert f'{vpn} -> {cgw} [label=VPN color="#c0392b" penwidth=2.5]' in source


def test_svg_without_graphviz_is_refused_with_the_fix(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(picture.shutil, "which", lambda _: None)
    with pytest.raises(DiagramError, match=r"need Graphviz's `dot` \(apt install graphviz"):
        write(graph, tmp_path / "prod.svg")
    assert not (tmp_path / "prod.svg").exists()
    assert write(graph, tmp_path / "prod.dot").read_text() == to_dot(graph).source


def test_missing_labels_names_what_an_svg_lacks(graph):
    committed = (ROOT / "docs" / "stack-prod.svg").read_text()
    assert missing_labels(graph, committed) == set()
    label = graph.node_labelled("vpn Gateway").label
    assert missing_labels(graph, committed.replace(f">{label}<", "><")) == {label}


def test_unknown_format_is_refused(graph, tmp_path):
    with pytest.raises(DiagramError, match=r"use one of \.mmd, \.dot, \.svg, \.png"):
        write(graph, tmp_path / "prod.jpeg")


def test_readme_embeds_the_picture_generated_from_prod(graph):
    assert "![The prod stack](docs/stack-prod.svg)" in (ROOT / "README.md").read_text()
    committed = (ROOT / "docs" / "stack-prod.mmd").read_text()
    assert committed == to_mermaid(graph), "regenerate: make diagram"
    svg = (ROOT / "docs" / "stack-prod.svg").read_text()
    assert missing_labels(graph, svg) == set(), "regenerate: make diagram"
