"""``railyard-agent``: serve the API and the health check; drain on SIGTERM.

One uvicorn server listens on two sockets (API port, health port). The first SIGTERM drains:
the health check turns 503 (the load balancer stops sending), new builds get 503, running
builds are stopped and marked interrupted, waiting clients are answered, then the server
exits. A second signal exits at once.

Each connection must deliver its request within ``RAILYARD_AGENT_REQUEST_TIMEOUT_SECONDS`` and
each port keeps a bounded number of them (see ``connections``); the open-file limit is checked
against those bounds at start, so idle clients can never exhaust it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, BinaryIO

from railyard_runtime import __version__
from railyard_runtime.agent import settings as agent_settings
from railyard_runtime.agent.settings import HEALTH_MAX_CONNECTIONS, AgentSettings, SettingsError
from railyard_runtime.environment import AgentEnv

if TYPE_CHECKING:
    from railyard_runtime.agent.draining import DrainingServer

log = logging.getLogger("railyard.agent")
METADATA = "http://100.100.100.200/latest"
BACKLOG = 64
"""Listen queue per port; asyncio also accepts up to this many sockets in one go."""
MAX_HEADER_BYTES = 8192
KEEP_ALIVE_SECONDS = 5


def advertised_url(s: AgentSettings, metadata: str = METADATA) -> str:
    """The URL the CLI follows a job to: configured, or this host's private IP."""
    if s.advertise_url:
        return s.advertise_url
    import httpx  # only hosts that ask the metadata: kept off every agent's start

    try:
        with httpx.Client(timeout=2) as http:  # Alibaba metadata in hardened mode (IMDSv2)
            token = http.put(
                f"{metadata}/api/token", headers={"X-aliyun-ecs-metadata-token-ttl-seconds": "60"}
            )
            token.raise_for_status()
            ip = http.get(
                f"{metadata}/meta-data/private-ipv4",
                headers={"X-aliyun-ecs-metadata-token": token.text},
            )
            ip.raise_for_status()
    except httpx.HTTPError as e:
        raise SettingsError(
            [
                f"{AgentEnv.ADVERTISE_URL}: not set and the instance metadata did not give "
                f"this host's private IP ({e}); set it to http://<private IP>:{s.port}"
            ]
        ) from e
    return f"http://{ip.text.strip()}:{s.port}"


def oss_uploader(s: AgentSettings):
    async def upload(apk: BinaryIO, key: str) -> str:
        def put() -> None:
            from railyard_runtime import clouds  # boto3: paid at the first upload, not at start

            client = clouds.oss_client(s.region, s.oss_endpoint or None)
            # the file the runner opened and checked: a path could be swapped by the build
            client.upload_fileobj(
                apk,
                s.apk_bucket,
                key,
                ExtraArgs={"ContentType": "application/vnd.android.package-archive"},
            )

        await asyncio.to_thread(put)
        return f"oss://{s.apk_bucket}/{key}"

    return upload


def open_files_needed(s: AgentSettings) -> int:
    """Descriptors the agent may hold at once: both ports' caps, a few accept batches beyond
    them before the oldest are dropped, builds (log, pipes) and its own files."""
    return s.max_connections + HEALTH_MAX_CONNECTIONS + 4 * BACKLOG + 64 + 4 * s.concurrency


def ensure_open_files(s: AgentSettings) -> int:
    """Raise the soft open-file limit to what the settings need, or say what to change."""
    needed = open_files_needed(s)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed and (hard == resource.RLIM_INFINITY or hard > soft):
        soft = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < needed:
        raise SettingsError(
            [
                f"{AgentEnv.MAX_CONNECTIONS}={s.max_connections}: the agent may need {needed} "
                f"open files but may only open {soft}; raise LimitNOFILE in "
                f"railyard-agent.service or lower {AgentEnv.MAX_CONNECTIONS}"
            ]
        )
    return soft


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def build_server(s: AgentSettings) -> tuple[DrainingServer, list[socket.socket]]:
    problems = agent_settings.host_problems(s)
    if problems:
        raise SettingsError(problems)
    ensure_open_files(s)
    token = agent_settings.load_token(s)
    if not s.build_user:
        log.warning(
            "%s is not set: builds run as the agent's own user and could read its token file; "
            "set it on shared or production hosts",
            AgentEnv.BUILD_USER,
        )
    # Loaded only now: a host refused above says so without loading the web stack
    # (uvicorn, Starlette and the job models are most of a start's CPU).
    import uvicorn

    from railyard_runtime.agent.app import create_app, guarded
    from railyard_runtime.agent.connections import ConnectionLimits, guarded_protocol
    from railyard_runtime.agent.draining import DrainingServer
    from railyard_runtime.agent.runner import Runner
    from railyard_runtime.agent.store import JobStore

    store = JobStore(s.database)
    requeued = store.recover(s.max_attempts)
    if requeued:
        log.warning("recovered %d job(s) cut off by the last stop", len(requeued))
    runner = Runner(s, store, oss_uploader(s))
    app = create_app(store, runner, token, advertised_url(s), s.health_port)

    @asynccontextmanager
    async def lifespan(_):
        await runner.remove_stale_workspaces()  # left by a crash, before any job runs
        workers = [
            asyncio.create_task(runner.run_forever()),
            asyncio.create_task(runner.sweep_forever()),
        ]
        runner.wake()  # jobs queued before a restart
        try:
            yield
        finally:
            for worker in workers:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await runner.close()
            store.close()

    app.router.lifespan_context = lifespan
    limits = ConnectionLimits(
        caps={s.port: s.max_connections, s.health_port: HEALTH_MAX_CONNECTIONS},
        request_timeout=s.request_timeout_seconds,
    )
    config = uvicorn.Config(
        guarded(app),
        http=guarded_protocol(limits),
        lifespan="on",
        log_level="info",
        timeout_graceful_shutdown=10,
        timeout_keep_alive=min(KEEP_ALIVE_SECONDS, s.request_timeout_seconds),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=BACKLOG,
    )
    sockets = [_listen(s.bind, s.port), _listen(s.bind, s.health_port)]
    return DrainingServer(config, runner, s.drain_grace_seconds), sockets


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if "--version" in sys.argv[1:]:
        print(__version__)
        return
    try:
        s = agent_settings.from_env()
        server, sockets = build_server(s)
    except SettingsError as e:
        for problem in e.problems:
            print(f"railyard-agent: {problem}", file=sys.stderr)
        sys.exit(2)
    log.info("railyard-agent %s on :%d (health :%d)", __version__, s.port, s.health_port)
    server.run(sockets=sockets)


if __name__ == "__main__":
    main()
