"""The unified release: gates, then backend, PWA and Android lanes in one DAG.

Android builds speculatively beside the backend rollout; the APK is published only when the
backend is healthy and the PWA verified — a ``depends`` expression, not shell. Critical path:
gates + the longest lane + publish.
"""

from __future__ import annotations

from hera.workflows import models as m

from railyard import pod_security
from railyard.release_templates.common import (
    AGENT_TOKEN_SECRET,
    GITHUB_TOKEN_SECRET,
    ON_EXIT,
    SECRETS_PATH,
    SOURCE_PATH,
    ReleaseSettings,
    RunIdentity,
    alibaba_federation,
    commit_time_param,
    env_mutex,
    git_source,
    metadata,
    notify_templates,
    on_workflow_nodes,
    param,
    pod_spec_fields,
    repository_path,
    restricted_container,
    retry,
    secret_mount,
    secret_volume,
    step_template,
    task_exit_hook,
)
from railyard_runtime import events

NAME = events.UNIFIED_RELEASE
KUBECTL_RESOURCES = m.ResourceRequirements(
    requests={"cpu": m.Quantity("50m"), "memory": m.Quantity("64Mi")},
    limits={"cpu": m.Quantity("500m"), "memory": m.Quantity("256Mi")},
)
SHA = "{{workflow.parameters.git-commit-sha}}"
REPOSITORY = "{{workflow.parameters.repository}}"
GATES = ("scan-images", "static-analysis")
ROLLBACK = "backend-rollback"
CANARY_WAIT_SECONDS = 900
"""How long the PWA gate waits for a canary run after the publish (runs come every 5 min)."""
# task -> Kanban lane it reports on
LANES = {
    "scan-images": "release",
    "static-analysis": "release",
    "approval": "release",
    "backend-apply": "backend",
    "backend-rollout": "backend",
    "backend-rollback": "backend",
    "pwa-publish": "pwa",
    "pwa-verify": "pwa",
    "pwa-canary": "pwa",
    "android-build": "android",
    "android-publish": "android",
}


def _all_succeeded(*tasks: str) -> str:
    return " && ".join(f"{t}.Succeeded" for t in tasks)


def dag_tasks(s: ReleaseSettings) -> list[m.DAGTask]:
    """The DAG; every task reports its phase through an exit hook."""
    start = "approval.Succeeded" if s.requires_approval else _all_succeeded(*GATES)
    spec: list[tuple[str, str | None]] = [
        ("scan-images", None),
        ("static-analysis", None),
        *([("approval", _all_succeeded(*GATES))] if s.requires_approval else []),
        ("backend-apply", start),
        ("backend-rollout", "backend-apply.Succeeded"),
        ("backend-rollback", "backend-rollout.Failed || backend-rollout.Errored"),
        ("pwa-publish", start),
        ("pwa-verify", "pwa-publish.Succeeded"),
        # the post-deploy gate: the canary's first run after the verified publish
        ("pwa-canary", "pwa-verify.Succeeded"),
        ("android-build", start),  # speculative: beside the backend rollout, not after it
        ("android-publish", _all_succeeded("android-build", "backend-rollout", "pwa-canary")),
    ]
    tasks = []
    for name, depends in spec:
        arguments = None
        if name == "android-publish":
            apk = "{{tasks.android-build.outputs.parameters.apk}}"
            arguments = m.Arguments(parameters=[param("apk", apk)])
        if name == "pwa-canary":  # a run that starts after this saw the verified release
            verified = "{{tasks.pwa-verify.finishedAt}}"
            arguments = m.Arguments(parameters=[param("verified", verified)])
        tasks.append(
            m.DAGTask(
                name=name,
                template=name,
                depends=depends,
                arguments=arguments,
                hooks=task_exit_hook(LANES[name], name, rolled_back=name == ROLLBACK),
            )
        )
    return tasks


def _kubectl(s: ReleaseSettings, name: str, args: list[str], deadline: int, **extra) -> m.Template:
    return m.Template(
        name=name,
        # kubectl keeps its discovery cache under $HOME: the scratch volume
        container=restricted_container(
            image=s.kubectl_image,
            command=["kubectl"],
            args=args,
            env=[m.EnvVar(name="HOME", value=pod_security.SCRATCH_PATH)],
            resources=KUBECTL_RESOURCES,
        ),
        retry_strategy=retry(exit_codes=()),  # pod errors only: kubectl's own failures are real
        active_deadline_seconds=m.IntOrString(deadline),
        **on_workflow_nodes(),
        **extra,
    )


def _backend_templates(s: ReleaseSettings) -> list[m.Template]:
    kind, _, workload = s.backend_workload.partition("/")
    timeout = f"{s.rollout_timeout_seconds}s"
    ns = ["--namespace", s.backend_namespace]
    if kind == "rollout":  # Argo Rollouts canary: wait for Healthy, abort to roll back
        wait = None
        rollback = [
            "patch",
            f"rollout/{workload}",
            "--subresource=status",
            "--type=merge",
            "--patch",
            '{"status":{"abort":true}}',
        ]
    else:
        wait = ["rollout", "status", f"deployment/{workload}", "--watch"]
        rollback = ["rollout", "undo", f"deployment/{workload}"]
    return [
        _kubectl(
            s,
            "backend-apply",
            [
                "apply",
                "--server-side",
                "--field-manager=railyard",
                "-k",
                f"{SOURCE_PATH}/{s.backend_overlay}",
            ],
            deadline=600,
            inputs=m.Inputs(artifacts=[git_source(s, s.backend_repo, SHA)]),
        ),
        _kubectl(
            s,
            "backend-rollout",
            [*wait, f"--timeout={timeout}", *ns],
            deadline=s.rollout_timeout_seconds + 60,
        )
        if wait
        # the steps read the Rollout from the API: done only once the controller has seen
        # this spec, and a Degraded canary fails at once (exit 1) instead of at the timeout
        else step_template(
            s,
            "backend-rollout",
            [
                "deploy",
                "rollout",
                "--name",
                workload,
                "--namespace",
                s.backend_namespace,
                "--timeout",
                str(s.rollout_timeout_seconds),
            ],
            deadline=s.rollout_timeout_seconds + 60,
        ),
        _kubectl(s, "backend-rollback", [*rollback, *ns], deadline=300),
    ]


def templates(s: ReleaseSettings) -> list[m.Template]:
    images = [a for repo in s.scan_images for a in ("--image", f"{repo}:{SHA}")]
    block = ",".join(s.block_severities)
    pwa_dist = "/work/dist"
    out = [
        m.Template(name="release", dag=m.DAGTemplate(tasks=dag_tasks(s))),
        step_template(
            s,
            "scan-images",
            ["scan", "images", *images, "--block", block, "--deadline", "900"],
            deadline=1200,
        ),
        step_template(
            s,
            "static-analysis",
            [
                "scan",
                "code",
                "--repository",
                s.code_scanning_repo,
                "--commit",
                SHA,
                "--token-file",
                f"{SECRETS_PATH}/github/token",
            ],
            deadline=300,
            container={"volume_mounts": [secret_mount("github")]},
            # optional: without the Secret the step says which config key is missing
            volumes=[secret_volume("github", GITHUB_TOKEN_SECRET, optional=True)],
        ),
        *_backend_templates(s),
        step_template(
            s,
            "pwa-publish",
            [
                "pwa",
                "publish",
                pwa_dist,
                "--release",
                SHA,
                *(a for path in s.pwa_hashed_paths for a in ("--hashed-path", path)),
            ],
            deadline=1800,
            **alibaba_federation(),
            # the PWA's CI uploads its build as pwa/<sha>.tgz to the artifact repository
            inputs=m.Inputs(
                artifacts=[
                    m.Artifact(name="dist", path=pwa_dist, s3=m.S3Artifact(key=f"pwa/{SHA}.tgz"))
                ]
            ),
        ),
        step_template(
            s,
            "pwa-verify",
            ["pwa", "verify", "--release", SHA],
            deadline=900,
            **alibaba_federation(),
        ),
        step_template(
            s,
            "pwa-canary",
            [
                "pwa",
                "canary",
                "--after",
                "{{inputs.parameters.verified}}",
                "--deadline",
                str(CANARY_WAIT_SECONDS),
            ],
            deadline=CANARY_WAIT_SECONDS + 120,
            retry_strategy=retry(exit_codes=(3,)),
            inputs=m.Inputs(parameters=[param("verified")]),
        ),
        step_template(
            s,
            "android-build",
            [
                "android",
                "build",
                "--commit",
                SHA,
                "--token-file",
                f"{SECRETS_PATH}/agent/token",
                "--deadline",
                "3300",
                "--artifact-file",
                "/tmp/apk",
            ],
            deadline=3600,
            retry_strategy=retry(limit=2),  # the step already resubmits across hosts
            container={"volume_mounts": [secret_mount("agent")]},
            volumes=[secret_volume("agent", AGENT_TOKEN_SECRET)],
            outputs=m.Outputs(
                parameters=[m.Parameter(name="apk", value_from=m.ValueFrom(path="/tmp/apk"))]
            ),
        ),
        step_template(
            s,
            "android-publish",
            [
                "android",
                "publish",
                "--apk",
                "{{inputs.parameters.apk}}",
                "--env",
                "{{workflow.parameters.env}}",
                "--commit",
                SHA,
                "--feature",
                "{{workflow.parameters.feature}}",
            ],
            deadline=600,
            **alibaba_federation(),
            inputs=m.Inputs(parameters=[param("apk")]),
        ),
        *notify_templates(s, "release", run_identity()),
    ]
    if s.requires_approval:
        out.append(m.Template(name="approval", suspend=m.SuspendTemplate()))
    return out


def run_identity() -> RunIdentity:
    return RunIdentity(template=NAME, commit=SHA, repository=REPOSITORY)


def workflow_template(s: ReleaseSettings) -> m.WorkflowTemplate:
    return m.WorkflowTemplate(
        api_version="argoproj.io/v1alpha1",
        kind="WorkflowTemplate",
        metadata=metadata(NAME, s),
        spec=m.WorkflowSpec(
            entrypoint="release",
            **pod_spec_fields(s),
            arguments=m.Arguments(
                parameters=[
                    param("git-commit-sha", description="Commit to release (40 hex)."),
                    param("feature", description="Kanban card id the release moves."),
                    param("env", s.env, description="Environment; keys the release mutex."),
                    param(
                        "repository",
                        repository_path(s, s.backend_repo),
                        description="Repository (owner/name) of the commit: the one whose push "
                        "started the release; by hand, the backend's.",
                    ),
                    commit_time_param(),
                ]
            ),
            synchronization=env_mutex("release"),
            on_exit=ON_EXIT,
            active_deadline_seconds=4 * 3600,
            pod_gc=m.PodGC(strategy="OnPodSuccess"),
            templates=templates(s),
        ),
    )
