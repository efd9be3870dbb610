"""How big the release train's Workflow objects get, without a cluster.

A running Workflow is one etcd object: its spec, ``status.storedWorkflowTemplateSpec`` (a copy
of the template it references), ``status.storedTemplates`` (templates pulled in through
``templateRef``) and one ``status.nodes`` entry per node. Each job item makes a retry node, a
pod node per attempt and the same two for its exit hook; a node entry is modelled on what the
controller writes (ids, names, times, phase, inputs/outputs, children).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from railyard.release_templates import common, train
from railyard_runtime.release import manifest as release_manifest
from railyard_runtime.release import plan

NODES_PER_JOB = 4  # retry + pod, and the exit hook's retry + pod


def node_status(name: str, inputs: dict | None = None, outputs: dict | None = None) -> dict:
    """One ``status.nodes`` entry as the controller writes it for a pod of this workflow."""
    node_id = "release-train-abcde-chunk-12-fghij-1234567890"
    return {
        "id": node_id,
        "name": f"release-train-abcde-chunk-12-fghij.{name}(0)",
        "displayName": f"{name}(0)",
        "type": "Pod",
        "templateName": "main",
        "templateRef": {"name": "lambda-job", "template": "main"},
        "templateScope": "local/release-train-abcde-chunk-12-fghij",
        "phase": "Succeeded",
        "boundaryID": "release-train-abcde-chunk-12-fghij-0987654321",
        "message": "",
        "startedAt": "2026-11-23T02:10:40Z",
        "finishedAt": "2026-11-23T02:12:41Z",
        "progress": "1/1",
        "resourcesDuration": {"cpu": 12, "memory": 120},
        "hostNodeName": "ip-10-10-123-45.ec2.internal",
        "inputs": inputs or {},
        "outputs": outputs or {"exitCode": "0"},
        "children": [node_id + "x"],
    }


@dataclass(frozen=True)
class ObjectSize:
    name: str
    nodes: int
    bytes: int


def _size(spec: dict, stored: list[dict], nodes: list[dict]) -> int:
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "release-train-abcde-chunk-12-fghij", "namespace": "workflows"},
        "spec": {"workflowTemplateRef": {"name": "x"}, "arguments": spec.get("arguments", {})},
        "status": {
            "storedWorkflowTemplateSpec": spec,
            "storedTemplates": {f"t{i}": t for i, t in enumerate(stored)},
            "nodes": {f"n{i}": n for i, n in enumerate(nodes)},
        },
    }
    return len(json.dumps(obj, separators=(",", ":")))


def train_objects(
    s: common.ReleaseSettings, manifest: release_manifest.Manifest
) -> list[ObjectSize]:
    """The deployer Workflow and every chunk Workflow of ``manifest``, with estimated sizes."""
    deployer = common.render(train.deployer(s))["spec"]
    chunk_spec = common.render(train.chunk_runner(s))["spec"]
    jobs = [
        common.render(train.job_template(s, k))["spec"]["templates"][0] for k in train.JOB_KINDS
    ]
    count = plan.chunk_count(manifest, s.chunk_size)
    chunks_out = {"parameters": [{"name": "chunks", "value": json.dumps(list(range(count)))}]}
    parent_nodes = [node_status("plan", outputs=chunks_out)] + [
        node_status(f"chunk({i})") for i in range(count) for _ in range(NODES_PER_JOB)
    ]
    sizes = [ObjectSize("release-train", len(parent_nodes), _size(deployer, [], parent_nodes))]
    for i in range(count):
        by_kind = plan.jobs_by_kind(manifest, i, s.chunk_size)
        plan_out = {
            "parameters": [
                {"name": k, "value": json.dumps(v, separators=(",", ":"))}
                for k, v in by_kind.items()
            ]
        }
        nodes = [node_status("plan", outputs=plan_out)]
        for kind, items in by_kind.items():
            for item in items:
                job = {"parameters": [{"name": "job", "value": json.dumps(item)}]}
                nodes += [node_status(f"{kind}({item['name']})", inputs=job)] * NODES_PER_JOB
        sizes.append(ObjectSize(f"chunk-{i}", len(nodes), _size(chunk_spec, jobs, nodes)))
    return sizes
