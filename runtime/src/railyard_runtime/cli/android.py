"""``railyard-steps android build``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from railyard_runtime import android, apk_release, clouds
from railyard_runtime.cli.output import current, step
from railyard_runtime.cli.secrets import read_token
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput

app = typer.Typer(help="Android builds on the Alibaba build farm.", no_args_is_help=True)


def _token(token_file: Path | None) -> str:
    """From a file (a mounted Kubernetes Secret) or the environment; never an argument."""
    if token_file is not None:
        return read_token(token_file, "--token-file")
    token = os.environ.get(StepsEnv.AGENT_TOKEN, "").strip()
    if not token:
        raise BadInput(
            f"no agent token: mount it and pass --token-file ({StepsEnv.AGENT_TOKEN_FILE}), or "
            f"set {StepsEnv.AGENT_TOKEN}; the stack output buildAgentToken holds it"
        )
    return token


@app.command("build")
@step
def build_command(
    ctx: typer.Context,
    commit: Annotated[str, typer.Option(help="Git commit SHA of the Android app.")],
    agent_url: Annotated[
        str,
        typer.Option(
            envvar=StepsEnv.AGENT_URL,
            help="The farm's load balancer, http://<stack output buildAgentEndpoint>.",
        ),
    ],
    token_file: Annotated[
        Path | None, typer.Option(envvar=StepsEnv.AGENT_TOKEN_FILE, help="File with the token.")
    ] = None,
    deadline: Annotated[float, typer.Option(min=1, help="Total seconds for the build.")] = 3600,
    max_submits: Annotated[int, typer.Option(min=1, max=10, help="Submissions at most.")] = 3,
    host_lost_after: Annotated[
        float, typer.Option(min=1, help="Seconds a silent host keeps its job.")
    ] = 60,
    unreachable_after: Annotated[
        float, typer.Option(min=1, help="Seconds without an answer from the load balancer.")
    ] = 120,
    request_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 10,
    artifact_file: Annotated[
        Path | None, typer.Option(help="Also write the APK's oss:// URL here (workflow output).")
    ] = None,
    agent_network: Annotated[
        str,
        typer.Option(
            envvar=StepsEnv.AGENT_NETWORK,
            help="CIDRs (comma-separated) the farm's agents live in: a job host outside them "
            "is refused and never gets the token.",
        ),
    ] = android.PRIVATE_NETWORKS,
) -> None:
    """Build the APK: submit, follow the job to its host, resubmit if the host goes away.

    Exit codes: 0 built, 1 build failed, 2 bad input or token (or a job host outside
    --agent-network), 3 no agent answered, 4 deadline exceeded.
    """
    out = current(ctx)
    policy = android.BuildPolicy(
        deadline_seconds=deadline,
        max_submits=max_submits,
        host_lost_after=host_lost_after,
        request_timeout=request_timeout,
        unreachable_after=unreachable_after,
        agent_networks=android.parse_networks(agent_network),
    )
    with out.progress() as bars:
        task = bars.add_task(f"android {commit[:12]}", total=None)

        def on_event(message: str) -> None:
            bars.update(task, description=message)
            out.note(message)

        job = android.build(commit, agent_url, _token(token_file), policy, on_event)
    if artifact_file is not None:
        artifact_file.parent.mkdir(parents=True, exist_ok=True)
        artifact_file.write_text(job.artifact_url or "")
    out.result(job, lambda console: console.print(f"APK: {job.artifact_url}"))


@app.command("publish")
@step
def publish_command(
    ctx: typer.Context,
    apk: Annotated[str, typer.Option(help="oss://<bucket>/apks/<commit>/<job>.apk")],
    env: Annotated[str, typer.Option(help="Environment the APK is released to.")],
    commit: Annotated[str, typer.Option(help="Commit the APK was built from.")],
    feature: Annotated[str, typer.Option(help="Kanban card id of the release.")],
    oss_region: Annotated[
        str, typer.Option(envvar=StepsEnv.ALIBABA_REGION, help="Alibaba region of the bucket.")
    ],
    oss_endpoint: Annotated[
        str | None, typer.Option(envvar=StepsEnv.OSS_ENDPOINT, help="OSS S3-compatible URL.")
    ] = None,
) -> None:
    """Release the APK to ENV: copy to releases/ENV/COMMIT.apk, then move latest.json."""
    record, changed = apk_release.publish(
        clouds.oss_client(oss_region, oss_endpoint), apk, env, commit, feature
    )
    verb = "published" if changed else "already published"
    current(ctx).result(
        {"changed": changed, "release": record},
        lambda console: console.print(f"{verb}: {record.apk} ({record.feature})"),
    )
