"""Real ``railyard-agent`` processes on 127.0.0.1, and a load balancer in front of them."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ALIBABA_REGION, LocalServer, QuietHandler, client

from railyard_runtime.agent.jobs import Job, State

TOKEN = "t" * 48
APK_BUCKET = "railyard-dev-android-apks"
FAKE_GRADLE = Path(__file__).with_name("fake_gradle.py")

http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
"""Every test request goes through this client: ``httpx.get`` builds a client and its SSL
context per call (~50 ms of CPU, a busy loop in a poll). No keep-alive: each request is a
connection of its own, as with ``httpx.get``, so no pooled socket outlives an agent."""


@functools.cache
def s3(endpoint: str):
    """One S3 client per moto endpoint for the whole session: each boto3 client built costs
    ~80 ms of CPU, and moto's per-test reset leaves the endpoint as it is."""
    return client("s3", endpoint)


def wait_for(agent: Agent, job_id: str, *states: State, timeout: float = 20) -> Job:
    """The job once it is in one of ``states``; waits on the agent's long poll, not a timer."""
    deadline = time.monotonic() + timeout
    url = f"{agent.url}/builds/{job_id}"
    job = Job.model_validate(http.get(url, headers=agent.headers(), timeout=10).json())
    while job.state not in states:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"job {job_id} not in {states} after {timeout} s: {job}")
        answer = http.get(
            f"{url}/wait",
            params={"state": job.state.value, "timeout": f"{min(left, 5):.2f}"},
            headers=agent.headers(),
            timeout=15,
        )
        job = Job.model_validate(answer.json())
    return job


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> tuple[int, ...]:
    """``count`` distinct free ports: each socket stays open until all are picked, so the
    kernel cannot hand the same port out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return tuple(s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()


class Agent:
    def __init__(
        self, root: Path, moto: str, name: str = "agent", nofile: int | None = None, **env: str
    ):
        """``nofile``: the agent's open-file limit (soft and hard), as a unit's LimitNOFILE."""
        self.root = root / name
        self.root.mkdir(parents=True, exist_ok=True)
        self.port, self.health_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.health_url = f"http://127.0.0.1:{self.health_port}/healthz"
        self.nofile = nofile
        self.token_file = self.root / "token"
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(TOKEN + "\n")
        self.env = os.environ | {
            "RAILYARD_AGENT_PORT": str(self.port),
            "RAILYARD_AGENT_HEALTH_PORT": str(self.health_port),
            "RAILYARD_AGENT_BIND": "127.0.0.1",
            "RAILYARD_AGENT_ADVERTISE_URL": self.url,
            "RAILYARD_AGENT_DATA_DIR": str(self.root / "data"),
            "RAILYARD_AGENT_TOKEN_FILE": str(self.token_file),
            "RAILYARD_BUILD_COMMAND": f"{sys.executable} {FAKE_GRADLE}",
            # builds see only named variables of the agent's environment: the fake's knobs
            "RAILYARD_BUILD_PASS_ENV": "FAKE_BUILD_GATE FAKE_BUILD_SECONDS FAKE_BUILD_FAIL",
            "RAILYARD_APK_BUCKET": APK_BUCKET,
            "RAILYARD_ALIBABA_REGION": ALIBABA_REGION,
            "RAILYARD_OSS_ENDPOINT": moto,
            "RAILYARD_AGENT_DRAIN_GRACE_SECONDS": "1",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "alibaba-testing",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "alibaba-testing",
            **env,
        }
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        path = self.root / "agent.log"
        return path.read_text() if path.exists() else ""

    def start(self) -> Agent:
        command = [sys.executable, "-m", "railyard_runtime.agent.server"]
        if self.nofile is not None:
            command = ["sh", "-c", f'ulimit -n {self.nofile} && exec "$0" "$@"', *command]
        with (self.root / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"agent exited {self.process.returncode}:\n{self.log}")
            try:
                if http.get(self.health_url, timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"agent not ready in 20 s:\n{self.log}")

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 20) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Gone without a word, like a reclaimed spot instance."""
        self.signal(signal.SIGKILL)
        self.wait_exit()

    def stop(self) -> None:
        """After a test: no drain needed (the fake build exits when its agent is gone)."""
        if self.process and self.process.poll() is None:
            self.kill()

    def headers(self, token: str = TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


class LoadBalancer:
    """Sends each request to the first agent whose health check answers 200 (as the NLB)."""

    def __init__(self, agents: list[Agent]):
        lb = self
        self.agents = agents
        self.routed: list[str] = []

        class Handler(QuietHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                for agent in lb.agents:
                    try:
                        if http.get(agent.health_url, timeout=0.5).status_code != 200:
                            continue
                        answer = http.request(
                            self.command,
                            agent.url + self.path,
                            content=body,
                            headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                            timeout=30,
                        )
                    except httpx.TransportError:
                        continue
                    lb.routed.append(agent.url)
                    self._answer(answer.status_code, answer.content)
                    return
                self._answer(503, b'{"error": "no healthy agent"}')

            def _answer(self, status: int, data: bytes):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, *args):
                pass

        self.server = LocalServer(Handler)
        self.url = self.server.url
