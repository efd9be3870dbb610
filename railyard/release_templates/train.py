"""The release train: deployer, chunk runner and one job template per type.

The deployer checks the manifest out at the merged commit, validates and plans it, then creates
one child Workflow per chunk (``resource`` template, ``action: create``). Each child plans its
chunk and fans out with ``withParam`` into the shared job templates — one definition per type
for every environment. Parent and children each hold at most ``chunk_size`` job nodes, so no
Workflow object approaches etcd's size limit (docs/design.md: release train chunking). Every
job is idempotent, so re-running a manifest re-asserts git's state and changes nothing that
already matches.
"""

from __future__ import annotations

import yaml
from hera.workflows import models as m

from railyard import pod_security
from railyard.release_templates.common import (
    COMMIT_TIME,
    ON_EXIT,
    PLAN_DIR,
    SOURCE_PATH,
    ReleaseSettings,
    RunIdentity,
    commit_time_param,
    env_mutex,
    git_source,
    metadata,
    notify_templates,
    on_workflow_nodes,
    param,
    pod_spec_fields,
    repository_path,
    retry,
    steps_container,
    task_exit_hook,
)
from railyard_runtime import events

DEPLOYER = events.RELEASE_TRAIN
CHUNK = "release-train-chunk"
JOB_KINDS = {  # plan output (release plan --chunk) -> job WorkflowTemplate
    "lambda": "lambda-job",
    "s3": "s3-upload",
    "apigw": "api-gw-deploy",
    "image": "image-promote",
}
MANIFEST = "{{workflow.parameters.manifest}}"
REVISION = "{{workflow.parameters.revision}}"


def _arguments() -> list[m.Parameter]:
    return [
        param("manifest", description="Path of the manifest in the infra repo: releases/x.yaml."),
        param("revision", description="Infra repo commit the manifest is read at."),
        param("feature", "release-train", description="Kanban card id the release moves."),
        commit_time_param(),
    ]


def _spec(
    s: ReleaseSettings, name: str, entrypoint: str, templates: list[m.Template], **extra
) -> m.WorkflowSpec:
    run = RunIdentity(template=name, commit=REVISION, repository=repository_path(s, s.infra_repo))
    return m.WorkflowSpec(
        entrypoint=entrypoint,
        **pod_spec_fields(s),
        arguments=m.Arguments(parameters=[*_arguments(), param("env", s.env)]),
        on_exit=ON_EXIT,
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        templates=[*templates, *notify_templates(s, "release", run)],
        **extra,
    )


def _plan(s: ReleaseSettings, name: str, args: list[str], outputs: list[str]) -> m.Template:
    return m.Template(
        name=name,
        inputs=m.Inputs(artifacts=[git_source(s, s.infra_repo, REVISION)]),
        container=steps_container(
            s,
            [
                "release",
                "plan",
                f"{SOURCE_PATH}/{MANIFEST}",
                "--out-dir",
                PLAN_DIR,
                "--chunk-size",
                str(s.chunk_size),
                *args,
            ],
        ),
        outputs=m.Outputs(
            parameters=[
                m.Parameter(name=o, value_from=m.ValueFrom(path=f"{PLAN_DIR}/{o}.json"))
                for o in outputs
            ]
        ),
        retry_strategy=retry(),
        active_deadline_seconds=m.IntOrString(300),
        **on_workflow_nodes(),
    )


def child_workflow_manifest(s: ReleaseSettings) -> str:
    """The child Workflow the deployer creates per chunk: a reference, not a copy."""
    child = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": "{{workflow.name}}-chunk-{{inputs.parameters.chunk}}-",
            "namespace": s.namespace,
            "labels": {"railyard.io/release-train": "{{workflow.name}}"},
        },
        "spec": {
            "workflowTemplateRef": {"name": CHUNK},
            # the template sets both too; said here, the object checks out on its own
            "serviceAccountName": s.service_account,
            "securityContext": pod_security.pod_security_context(),
            "arguments": {
                "parameters": [
                    {"name": "manifest", "value": MANIFEST},
                    {"name": "revision", "value": REVISION},
                    {"name": "feature", "value": "{{workflow.parameters.feature}}"},
                    {"name": "env", "value": "{{workflow.parameters.env}}"},
                    {"name": COMMIT_TIME, "value": f"{{{{workflow.parameters.{COMMIT_TIME}}}}}"},
                    {"name": "chunk", "value": "{{inputs.parameters.chunk}}"},
                ]
            },
        },
    }
    return yaml.safe_dump(child, sort_keys=False)


def deployer(s: ReleaseSettings) -> m.WorkflowTemplate:
    gate = "approval.Succeeded" if s.requires_approval else "plan.Succeeded"
    tasks = [
        m.DAGTask(name="plan", template="plan", hooks=task_exit_hook("release", "plan")),
        *(
            [
                m.DAGTask(
                    name="approval",
                    template="approval",
                    depends="plan.Succeeded",
                    hooks=task_exit_hook("release", "approval"),
                )
            ]
            if s.requires_approval
            else []
        ),
        m.DAGTask(
            name="chunk",
            template="chunk",
            depends=gate,
            with_param="{{tasks.plan.outputs.parameters.chunks}}",
            arguments=m.Arguments(parameters=[param("chunk", "{{item}}")]),
            hooks=task_exit_hook("release", "chunk"),
        ),
    ]
    templates = [
        # chunks at a time: each child fans out to job_parallelism pods of its own
        m.Template(name="deploy", dag=m.DAGTemplate(tasks=tasks), parallelism=s.chunk_parallelism),
        _plan(s, "plan", [], ["chunks"]),
        m.Template(
            name="chunk",
            inputs=m.Inputs(parameters=[param("chunk")]),
            resource=m.ResourceTemplate(
                action="create",
                set_owner_reference=True,
                manifest=child_workflow_manifest(s),
                success_condition="status.phase == Succeeded",
                failure_condition="status.phase in (Failed, Error)",
            ),
            retry_strategy=retry(exit_codes=()),
        ),
    ]
    if s.requires_approval:
        templates.append(m.Template(name="approval", suspend=m.SuspendTemplate()))
    return m.WorkflowTemplate(
        api_version="argoproj.io/v1alpha1",
        kind="WorkflowTemplate",
        metadata=metadata(DEPLOYER, s),
        spec=_spec(s, DEPLOYER, "deploy", templates, synchronization=env_mutex("release-train")),
    )


def chunk_runner(s: ReleaseSettings) -> m.WorkflowTemplate:
    tasks = [m.DAGTask(name="plan", template="plan", hooks=task_exit_hook("release", "plan"))]
    for kind, job in JOB_KINDS.items():
        tasks.append(
            m.DAGTask(
                name=kind,
                depends="plan.Succeeded",
                template_ref=m.TemplateRef(name=job, template="main"),
                with_param=f"{{{{tasks.plan.outputs.parameters.{kind}}}}}",
                arguments=m.Arguments(parameters=[param("job", "{{item}}")]),
                hooks=task_exit_hook("release", kind),
            )
        )
    plan = _plan(s, "plan", ["--chunk", "{{workflow.parameters.chunk}}"], list(JOB_KINDS))
    spec = _spec(
        s,
        CHUNK,
        "run",
        [m.Template(name="run", dag=m.DAGTemplate(tasks=tasks)), plan],
        parallelism=s.job_parallelism,
    )
    spec.arguments.parameters.append(param("chunk", description="Chunk number (release plan)."))
    return m.WorkflowTemplate(
        api_version="argoproj.io/v1alpha1",
        kind="WorkflowTemplate",
        metadata=metadata(CHUNK, s),
        spec=spec,
    )


def _job_args(kind: str) -> list[str]:
    item = "{{=jsonpath(inputs.parameters.job, '$.%s')}}"
    source = f"{SOURCE_PATH}/{item % 'source'}"
    return {
        "lambda": [
            "deploy",
            "lambda",
            "--function-name",
            item % "functionName",
            "--source",
            source,
            "--checkout",  # the folder must resolve inside the repository's checkout
            SOURCE_PATH,
        ],
        "s3": [
            "deploy",
            "s3",
            "--bucket",
            item % "bucket",
            "--prefix",
            item % "prefix",
            "--source",
            source,
            "--checkout",  # the folder must resolve inside the repository's checkout
            SOURCE_PATH,
        ],
        "apigw": [
            "deploy",
            "apigw",
            "--rest-api-id",
            item % "restApiId",
            "--stage",
            item % "stage",
            "--source",
            source,
            "--checkout",  # the file must resolve inside the repository's checkout
            SOURCE_PATH,
            "--description",
            f"{item % 'repo'}@{item % 'commit'}",
        ],
        "image": [
            "images",
            "promote",
            "--manifest",
            f"{SOURCE_PATH}/{MANIFEST}",
            "--chunk",
            item % "chunk",
            "--chunk-size",
            "{chunk_size}",
        ],
    }[kind]


def job_template(s: ReleaseSettings, kind: str) -> m.WorkflowTemplate:
    """One job type, shared by every environment: the job's JSON from ``release plan``."""
    item = "{{=jsonpath(inputs.parameters.job, '$.%s')}}"
    if kind == "image":  # promotes from the manifest itself, read at the infra commit
        source = git_source(s, s.infra_repo, REVISION)
    else:
        source = git_source(s, item % "repo", item % "commit")
    args = [a.replace("{chunk_size}", str(s.chunk_size)) for a in _job_args(kind)]
    main = m.Template(
        name="main",
        inputs=m.Inputs(parameters=[param("job")], artifacts=[source]),
        container=steps_container(s, args),
        retry_strategy=retry(),
        active_deadline_seconds=m.IntOrString(1800),
        **on_workflow_nodes(),
    )
    return m.WorkflowTemplate(
        api_version="argoproj.io/v1alpha1",
        kind="WorkflowTemplate",
        metadata=metadata(JOB_KINDS[kind], s),
        spec=m.WorkflowSpec(templates=[main], **pod_spec_fields(s)),
    )


def all_templates(s: ReleaseSettings) -> list[m.WorkflowTemplate]:
    return [deployer(s), chunk_runner(s), *(job_template(s, k) for k in JOB_KINDS)]
