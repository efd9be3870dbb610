"""What every release template shares: settings, pod defaults, retries, exit-hook events.

Pure rendering with hera's typed models: no resources here, so the shapes are
tested directly and the stack installs the dicts as CustomResources.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from hera.workflows import models as m

from railyard import pod_security, ram_policies
from railyard.node_pools import WORKFLOW_NODE_LABEL, WORKFLOW_TAINT_KEY
from railyard_runtime.environment import FederationEnv
from railyard_runtime.release import plan

SOURCE_PATH = "/src"
PLAN_DIR = "/tmp/plan"
ENV_CONFIG_MAP = "railyard-release-env"  # stack outputs the steps read (bucket names, URLs)
AGENT_TOKEN_SECRET = "railyard-agent-token"
GITHUB_TOKEN_SECRET = "railyard-github-token"
SECRETS_PATH = "/var/run/railyard"
# What one step pod asks of a node; the workflows pool is sized against it.
STEP_CPU_MILLICORES = 100
STEP_MEMORY_MIB = 256
JOB_PARALLELISM = 10
"""Pods a release-train chunk runs at once: the widest fan-out of any template."""
# Alibaba through OIDC federation: the pod's own service-account token, projected for Alibaba
# STS, is exchanged for the release RAM role's short-lived keys (no stored key).
ALIBABA_TOKEN_VOLUME = "alibaba-oidc"
ALIBABA_TOKEN_DIR = "/var/run/secrets/alibabacloud"


@dataclass(frozen=True)
class ReleaseSettings:
    """Everything the templates are rendered from: stack config plus the steps image."""

    env: str
    namespace: str
    service_account: str
    steps_image: str
    """repo@sha256:… (stack output stepsImage)."""
    kubectl_image: str
    git_base_url: str
    """Prefix of every repository URL, e.g. https://github.com/acme/ ."""
    infra_repo: str
    """Repository holding releases/*.yaml."""
    backend_repo: str
    backend_overlay: str
    backend_workload: str
    """deployment/<name> or rollout/<name> (Argo Rollouts canary)."""
    backend_namespace: str
    scan_images: tuple[str, ...]
    """ECR repositories whose image tagged with the commit SHA is scanned."""
    block_severities: tuple[str, ...]
    code_scanning_repo: str
    requires_approval: bool
    pwa_hashed_paths: tuple[str, ...]
    rollout_timeout_seconds: int = 900
    chunk_size: int = plan.DEFAULT_CHUNK_SIZE
    chunk_parallelism: int = 4
    job_parallelism: int = JOB_PARALLELISM
    git_credentials_secret: str = ""
    """Secret with `username` and `password` keys for private repositories; empty: none."""


def peak_pods_per_workflow(job_parallelism: int = JOB_PARALLELISM) -> int:
    """Most step pods one running Workflow holds at once.

    The widest template is a release-train chunk (``job_parallelism`` jobs) and each running
    task can have its exit-hook pod beside it; the unified release is narrower (three lanes).
    Chunk Workflows count against the controller's parallelism themselves.
    """
    return job_parallelism + 1


def retry(limit: int = 3, exit_codes: tuple[int, ...] = (3,)) -> m.RetryStrategy:
    """Retry pod errors and the steps' "unreachable" exit code, with exponential backoff.

    Work that failed (exit 1) or bad input (exit 2) is not retried: it would fail again.
    """
    codes = " || ".join(f"asInt(lastRetry.exitCode) == {c}" for c in exit_codes)
    return m.RetryStrategy(
        limit=limit,
        retry_policy="Always",
        expression=f'lastRetry.status == "Error" || {codes}' if codes else None,
        backoff=m.Backoff(duration="15s", factor=2, max_duration="10m"),
    )


# Auto Mode replaces nodes (new AMIs, expiry) by draining them; a running release step is not
# something to evict halfway, so the node waits for it (up to the pool's grace period).
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}


def on_workflow_nodes() -> dict:
    """Template fields that put a step pod on the tainted workflows pool and keep it there."""
    return {
        "metadata": m.Metadata(annotations=DO_NOT_DISRUPT),
        "node_selector": WORKFLOW_NODE_LABEL,
        "tolerations": [
            m.Toleration(key=WORKFLOW_TAINT_KEY, operator="Exists", effect="NoSchedule")
        ],
    }


def pod_spec_fields(s: ReleaseSettings) -> dict:
    """What every release Workflow's pods share: the service account, Pod Security
    `restricted` at pod level (the executor's init and wait containers included) and the
    scratch volume the read-only containers write to."""
    return {
        "service_account_name": s.service_account,
        "security_context": m.PodSecurityContext(**pod_security.pod_security_context()),
        "volumes": [m.Volume(**pod_security.scratch_volume())],
    }


def restricted_container(**fields) -> m.Container:
    """A container that complies with `restricted`: read-only root, scratch space at /tmp."""
    mounts = [m.VolumeMount(**pod_security.scratch_mount()), *fields.pop("volume_mounts", [])]
    return m.Container(
        security_context=m.SecurityContext(**pod_security.container_security_context()),
        volume_mounts=mounts,
        **fields,
    )


def steps_container(s: ReleaseSettings, args: list[str], **extra) -> m.Container:
    """The pipeline-steps image, JSON output, stack outputs from the ConfigMap."""
    return restricted_container(
        image=s.steps_image,
        command=["railyard-steps"],
        args=["--json", *args],
        env_from=[m.EnvFromSource(config_map_ref=m.ConfigMapEnvSource(name=ENV_CONFIG_MAP))],
        resources=m.ResourceRequirements(
            requests={
                "cpu": m.Quantity(f"{STEP_CPU_MILLICORES}m"),
                "memory": m.Quantity(f"{STEP_MEMORY_MIB}Mi"),
            },
            limits={"cpu": m.Quantity("1"), "memory": m.Quantity("1Gi")},
        ),
        **extra,
    )


def step_template(
    s: ReleaseSettings, name: str, args: list[str], deadline: int, **extra
) -> m.Template:
    """A template running ``railyard-steps <args>`` on the workflows pool, retried and bounded.

    ``extra``: more template fields; ``container`` holds more container fields.
    """
    container_extra = extra.pop("container", {})
    return m.Template(
        name=name,
        container=steps_container(s, args, **container_extra),
        retry_strategy=extra.pop("retry_strategy", retry()),
        active_deadline_seconds=m.IntOrString(deadline),
        **on_workflow_nodes(),
        **extra,
    )


def alibaba_federation() -> dict:
    """Template pieces of a step that reaches Alibaba: the token volume, its mount and path.

    The role and identity-provider ARNs come from the release ConfigMap; the token expires
    hourly and the kubelet rotates it in place.
    """
    token = m.ServiceAccountTokenProjection(
        audience=ram_policies.STS_AUDIENCE, expiration_seconds=3600, path="token"
    )
    return {
        "container": {
            "env": [
                m.EnvVar(name=FederationEnv.OIDC_TOKEN_FILE, value=f"{ALIBABA_TOKEN_DIR}/token")
            ],
            "volume_mounts": [
                m.VolumeMount(
                    name=ALIBABA_TOKEN_VOLUME, mount_path=ALIBABA_TOKEN_DIR, read_only=True
                )
            ],
        },
        "volumes": [
            m.Volume(
                name=ALIBABA_TOKEN_VOLUME,
                projected=m.ProjectedVolumeSource(
                    sources=[m.VolumeProjection(service_account_token=token)]
                ),
            )
        ],
    }


def secret_volume(name: str, secret: str, optional: bool = False) -> m.Volume:
    return m.Volume(name=name, secret=m.SecretVolumeSource(secret_name=secret, optional=optional))


def git_source(s: ReleaseSettings, repo: str, revision: str) -> m.Artifact:
    """A repository checked out at ``revision`` into /src by Argo's executor."""
    creds = {}
    if s.git_credentials_secret:
        creds = {
            "username_secret": m.SecretKeySelector(name=s.git_credentials_secret, key="username"),
            "password_secret": m.SecretKeySelector(name=s.git_credentials_secret, key="password"),
        }
    return m.Artifact(
        name="source",
        path=SOURCE_PATH,
        git=m.GitArtifact(repo=f"{s.git_base_url}{repo}", revision=revision, **creds),
    )


def repository_path(s: ReleaseSettings, repo: str) -> str:
    """``repo`` as its host names it: ``acme/app`` for https://github.com/acme/ and ``app``."""
    return f"{urlparse(s.git_base_url).path.strip('/')}/{repo}".lstrip("/")


def param(name: str, value: str | None = None, description: str | None = None) -> m.Parameter:
    return m.Parameter(name=name, value=value, description=description)


NOTIFY = "notify"
ON_EXIT = "on-exit"
GITHUB_VOLUME = "github"
COMMIT_TIME = "commit-time"
"""The parameter that carries the commit's time from the push that started a run."""


@dataclass(frozen=True)
class RunIdentity:
    """What every event of a run says about it: the template and the change it delivers
    (Argo expressions or literals), so the delivery report can tie a run to its commit."""

    template: str
    commit: str
    repository: str
    commit_time: str = f"{{{{workflow.parameters.{COMMIT_TIME}}}}}"


def commit_time_param() -> m.Parameter:
    return param(
        COMMIT_TIME,
        "",
        description="When the commit was made (ISO 8601, from the push); empty: looked up "
        "from the git host at the end of the run.",
    )


def _publish(
    s: ReleaseSettings,
    name: str,
    run: RunIdentity,
    lane: str,
    task: str,
    phase: str,
    rolled_back: str = "false",
    times: tuple[str, ...] = (),
    extra_args: tuple[str, ...] = (),
    container: dict | None = None,
    **extra,
) -> m.Template:
    """``events publish`` of one phase to the Kanban feed's queue (docs/design.md: event feed)."""
    return m.Template(
        name=name,
        container=steps_container(
            s,
            [
                "events",
                "publish",
                "--feature",
                "{{workflow.parameters.feature}}",
                "--env",
                "{{workflow.parameters.env}}",
                "--lane",
                lane,
                "--task",
                task,
                "--phase",
                phase,
                "--workflow-uid",
                "{{workflow.uid}}",
                "--template",
                run.template,
                "--commit",
                run.commit,
                "--commit-time",
                run.commit_time,
                "--repository",
                run.repository,
                "--rolled-back",
                rolled_back,
                *times,
                *extra_args,
            ],
            **(container or {}),
        ),
        retry_strategy=m.RetryStrategy(
            limit=5, retry_policy="Always", backoff=m.Backoff(duration="5s", factor=2)
        ),
        active_deadline_seconds=m.IntOrString(120),
        **on_workflow_nodes(),
        **extra,
    )


def notify_templates(s: ReleaseSettings, lane: str, run: RunIdentity) -> list[m.Template]:
    """The per-task exit hook's template and the workflow's ``onExit`` template.

    The run's own event looks its commit time up on the git host when no push gave one
    (the token is optional: without it the event goes without).
    """
    inputs = m.Inputs(
        parameters=[
            *(param(name) for name in ("lane", "task", "phase", "started", "finished")),
            param("rolled-back", "false"),
        ]
    )
    per_task = _publish(
        s,
        NOTIFY,
        run,
        "{{inputs.parameters.lane}}",
        "{{inputs.parameters.task}}",
        "{{inputs.parameters.phase}}",
        rolled_back="{{inputs.parameters.rolled-back}}",
        times=(
            "--started",
            "{{inputs.parameters.started}}",
            "--finished",
            "{{inputs.parameters.finished}}",
        ),
        inputs=inputs,
    )
    on_exit = _publish(
        s,
        ON_EXIT,
        run,
        lane,
        "workflow",
        "{{workflow.status}}",
        times=("--started", "{{workflow.creationTimestamp}}"),
        extra_args=("--github-token-file", f"{SECRETS_PATH}/{GITHUB_VOLUME}/token"),
        container={"volume_mounts": [secret_mount(GITHUB_VOLUME)]},
        volumes=[secret_volume(GITHUB_VOLUME, GITHUB_TOKEN_SECRET, optional=True)],
    )
    return [per_task, on_exit]


def task_exit_hook(lane: str, task: str, rolled_back: bool = False) -> dict[str, m.LifecycleHook]:
    """The task's final phase and its times, for the board and the delivery report;
    ``rolled_back``: the task undoes its lane's release, so its success is a failed change."""
    parameters = [
        param("lane", lane),
        param("task", task),
        param("phase", f"{{{{tasks.{task}.status}}}}"),
        param("started", f"{{{{tasks.{task}.startedAt}}}}"),
        param("finished", f"{{{{tasks.{task}.finishedAt}}}}"),
    ]
    if rolled_back:
        parameters.append(param("rolled-back", "true"))
    return {"exit": m.LifecycleHook(template=NOTIFY, arguments=m.Arguments(parameters=parameters))}


def secret_mount(volume: str) -> m.VolumeMount:
    return m.VolumeMount(name=volume, mount_path=f"{SECRETS_PATH}/{volume}", read_only=True)


def env_mutex(kind: str) -> m.Synchronization:
    """Two runs of one kind for one environment never interleave (keyed by the env parameter)."""
    return m.Synchronization(mutexes=[m.Mutex(name=f"{kind}-{{{{workflow.parameters.env}}}}")])


def metadata(name: str, s: ReleaseSettings) -> m.ObjectMeta:
    return m.ObjectMeta(
        name=name,
        namespace=s.namespace,
        labels={"app.kubernetes.io/part-of": "railyard", "railyard.io/env": s.env},
    )


def render(template: m.WorkflowTemplate | m.CronWorkflow) -> dict:
    """The dict the API server gets: camelCase keys, no nulls."""
    return template.model_dump(by_alias=True, exclude_none=True, mode="json")
