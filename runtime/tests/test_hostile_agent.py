"""Attacks on the build agent and its CLI, each against a real ``railyard-agent`` process."""

from __future__ import annotations

import errno
import json
import os
import pwd
import selectors
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from pathlib import Path

import httpx
import pytest
from agents import APK_BUCKET, TOKEN, Agent, http, s3, wait_for
from conftest import LocalServer, QuietHandler
from typer.testing import CliRunner

from railyard_runtime.agent.jobs import State
from railyard_runtime.cli import app

SHA = "5b4a393f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c"


def submit(agent: Agent, commit: str = SHA) -> httpx.Response:
    return http.post(
        f"{agent.url}/builds", json={"commit": commit}, headers=agent.headers(), timeout=10
    )


def eventually(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} after {timeout} s"
        time.sleep(0.1)


# -- idle and half-open connections ---------------------------------------------------------

SLOW_REQUESTS = [
    b"",  # connects and says nothing
    b"GET /healthz HTTP/1.1\r\nHost: agent\r\nX-Slow: ",  # a head that never ends
    b"POST /builds HTTP/1.1\r\nHost: agent\r\nContent-Length: 100\r\n\r\n{",  # a stalled body
]


def open_flood(port: int, count: int, timeout: float = 5) -> list[socket.socket]:
    """``count`` connections (non-blocking connects, bounded in time), each sending a slow
    request that never completes; returns the ones that connected."""
    pending: dict[socket.socket, bytes] = {}
    with selectors.DefaultSelector() as selector:
        for i in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            assert sock.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS)
            pending[sock] = SLOW_REQUESTS[i % len(SLOW_REQUESTS)]
            selector.register(sock, selectors.EVENT_WRITE)
        connected: list[socket.socket] = []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                sock = key.fileobj
                selector.unregister(sock)
                payload = pending.pop(sock)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    if payload:
                        sock.send(payload)
                    connected.append(sock)
                else:
                    sock.close()
        for sock in pending:
            sock.close()
    return connected


def wait_all_closed(socks: list[socket.socket], timeout: float) -> list[socket.socket]:
    """Read each socket until the agent closes it; the ones still open after ``timeout``."""
    open_ = set(socks)
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(sock)
                    open_.discard(sock)
    return list(open_)


def sockets_of(agent: Agent) -> int:
    """Sockets the agent process holds (listening ones included)."""
    fds = Path(f"/proc/{agent.process.pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def health_latency(agent: Agent, timeout: float = 5) -> tuple[object, float]:
    started = time.monotonic()
    try:
        outcome: object = http.get(agent.health_url, timeout=timeout).status_code
    except httpx.TransportError as e:
        outcome = repr(e)
    return outcome, time.monotonic() - started


def test_idle_and_half_open_connections_cannot_starve_the_health_check(aws, tmp_path):
    # 400 connections against an agent that may open 384 files (as LimitNOFILE would say):
    # unbounded, they take every descriptor and the health port stops accepting.
    agent = Agent(
        tmp_path,
        aws,
        nofile=384,
        RAILYARD_AGENT_MAX_CONNECTIONS="16",
        RAILYARD_AGENT_REQUEST_TIMEOUT_SECONDS="2",
    ).start()
    flood: list[socket.socket] = []
    try:
        at_rest = sockets_of(agent)
        flood += open_flood(agent.port, 300)
        flood += open_flood(agent.health_port, 100)
        assert len(flood) >= 300, f"only {len(flood)} connections opened"

        status, took = health_latency(agent)
        assert status == 200 and took < 2.0, f"/healthz under the flood: {status} in {took:.2f} s"

        # Every connection the agent accepted is closed by the request timeout (2 s). Some of
        # the flood never reached it: past a full listen queue the kernel keeps no state (SYN
        # cookies), so those are half-open on the client's side only and cost the agent nothing.
        eventually(lambda: sockets_of(agent) <= at_rest, 2 + 4, "the agent keeps idle sockets")
        closed = len(flood) - len(wait_all_closed(flood, timeout=1))
        assert closed >= 300, f"only {closed} of {len(flood)} idle connections were closed"
        assert agent.process.poll() is None
        assert submit(agent, "0" * 40).status_code in (202, 200)  # the API works on
        assert "Too many open files" not in agent.log
    finally:
        for sock in flood:
            sock.close()
        agent.stop()


def test_an_open_file_limit_too_small_for_the_caps_is_refused_at_start(aws, tmp_path):
    agent = Agent(tmp_path, aws, nofile=128)  # the default 512 connections cannot fit
    try:
        with pytest.raises(RuntimeError, match="exited 2"):
            agent.start()
    finally:
        agent.stop()
    assert "RAILYARD_AGENT_MAX_CONNECTIONS=512" in agent.log and "LimitNOFILE" in agent.log


def test_a_request_too_slow_to_arrive_is_cut_off_while_a_long_poll_is_not(agents, tmp_path):
    agent = agents(
        FAKE_BUILD_GATE=str(tmp_path / "never"), RAILYARD_AGENT_REQUEST_TIMEOUT_SECONDS="1"
    )
    with socket.create_connection(("127.0.0.1", agent.port), timeout=5) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: agent\r\n")
        started, cut_after = time.monotonic(), None
        while cut_after is None and time.monotonic() - started < 5:
            if not wait_all_closed([slow], timeout=0.3):
                cut_after = time.monotonic() - started
                break
            try:
                slow.sendall(b"X-Slow: 1\r\n")  # a header line now and then: never done
            except OSError:
                cut_after = time.monotonic() - started
        assert cut_after is not None and cut_after < 2.5, f"slow request open for {cut_after}"

    # a whole request in time is served however long the app takes (bounded by ?timeout=)
    job = wait_for(agent, submit(agent).json()["id"], State.RUNNING)
    started = time.monotonic()
    answer = http.get(
        f"{agent.url}/builds/{job.id}/wait",
        params={"state": "running", "timeout": "2.5"},
        headers=agent.headers(),
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["state"] == "running"
    assert time.monotonic() - started >= 2.4


# -- the queue ------------------------------------------------------------------------------


def test_a_full_queue_answers_429_with_retry_after_and_loses_nothing(agents, tmp_path):
    agent = agents(FAKE_BUILD_GATE=str(tmp_path / "never"), RAILYARD_AGENT_MAX_QUEUED="3")
    running = submit(agent, "a" * 40).json()["id"]
    wait_for(agent, running, State.RUNNING)

    commits = [f"{i:040x}" for i in range(1, 11)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda c: submit(agent, c), commits))

    codes = sorted(a.status_code for a in answers)
    assert codes == [202] * 3 + [429] * 7, codes
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.headers["retry-after"].isdigit()
        assert "RAILYARD_AGENT_MAX_QUEUED=3" in refused.json()["error"]
    queued = next(a.json() for a in answers if a.status_code == 202)
    again = submit(agent, queued["commit"])  # a queued commit is found, full queue or not
    assert (again.status_code, again.json()["id"]) == (200, queued["id"])
    with closing(sqlite3.connect(agent.root / "data" / "jobs.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone() == (4,)


# -- workspaces and logs --------------------------------------------------------------------


def test_a_failed_build_leaves_no_workspace_and_its_log_goes_after_the_retention(agents):
    agent = agents(FAKE_BUILD_FAIL="1", RAILYARD_AGENT_LOG_RETENTION_SECONDS="1")
    job = wait_for(agent, submit(agent).json()["id"], State.FAILED, State.SUCCEEDED)
    assert job.state is State.FAILED and "exited with 3" in job.error
    workspace = agent.root / "data" / "work" / job.id
    log = agent.root / "data" / "logs" / f"{job.id}.log"

    eventually(lambda: not workspace.exists(), 5, f"workspace {workspace} still there")
    eventually(lambda: not log.exists(), 5, f"log {log} still there")
    after = wait_for(agent, job.id, State.FAILED)  # the job itself is kept
    assert after.error == job.error and after.log_tail == []


def test_an_interrupted_build_leaves_no_workspace(agents, tmp_path):
    agent = agents(FAKE_BUILD_GATE=str(tmp_path / "never"))
    job_id = submit(agent).json()["id"]
    wait_for(agent, job_id, State.RUNNING)
    workspace = agent.root / "data" / "work" / job_id
    assert workspace.is_dir()

    agent.signal(signal.SIGTERM)
    assert agent.wait_exit(20) == 0

    assert not workspace.exists()
    assert not list((agent.root / "data" / "work").iterdir())


# -- what a build can see -------------------------------------------------------------------

ENV_PROBE = """
env | sed 's/^/env: /'
exit 5
"""
PROBE = """
echo "uid=$(id -u)"
grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status
env | sed 's/^/env: /'
if cat {control} >/dev/null 2>&1; then echo CONTROL-READ; else echo CONTROL-UNREADABLE; fi
if cat {token} >/dev/null 2>&1; then echo "TOKEN-READ: $(cat {token})"
else echo TOKEN-UNREADABLE; fi
if tr '\\0' '\\n' < /proc/$PPID/environ >/dev/null 2>&1; then
  echo "AGENT-ENVIRON-READ"; tr '\\0' '\\n' < /proc/$PPID/environ | sed 's/^/agent env: /'
else echo AGENT-ENVIRON-UNREADABLE; fi
exit 5
"""


def probe_command(token_file: Path, probe: str = PROBE) -> str:
    control = shlex.quote(str(token_file.with_name("control")))
    return "sh -c " + shlex.quote(probe.format(token=shlex.quote(str(token_file)), control=control))


def build_log(agent: Agent) -> str:
    job = wait_for(agent, submit(agent).json()["id"], State.FAILED, State.SUCCEEDED)
    assert "exited with 5" in (job.error or ""), job
    return (agent.root / "data" / "logs" / f"{job.id}.log").read_text()


def test_a_build_gets_none_of_the_agents_environment(agents, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADLE_SIGNING_HINT", "passed on request")
    agent = agents(
        RAILYARD_BUILD_COMMAND=probe_command(tmp_path / "agent" / "token", ENV_PROBE),
        RAILYARD_BUILD_PASS_ENV="GRADLE_SIGNING_HINT",
    )

    log = build_log(agent)

    names = {line[5:].split("=", 1)[0] for line in log.splitlines() if line.startswith("env: ")}
    assert not {n for n in names if n.startswith(("RAILYARD_AGENT_", "ALIBABA_CLOUD_"))}, names
    assert {"RAILYARD_COMMIT", "RAILYARD_JOB_ID", "PATH", "GRADLE_SIGNING_HINT"} <= names
    assert "alibaba-testing" not in log  # the agent's cloud credentials


def test_the_agent_refuses_a_build_variable_that_is_its_own():
    result = _agent_settings_error(RAILYARD_BUILD_PASS_ENV="PATH ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    assert "RAILYARD_BUILD_PASS_ENV: ALIBABA_CLOUD_ACCESS_KEY_SECRET is the agent's own" in result


def _agent_settings_error(**env: str) -> str:
    from railyard_runtime.agent import settings as agent_settings

    base = {
        "RAILYARD_AGENT_TOKEN_FILE": "/run/token",
        "RAILYARD_APK_BUCKET": "apks",
        "RAILYARD_ALIBABA_REGION": "cn-hangzhou",
        "RAILYARD_ANDROID_REPO": "https://git.example.com/app.git",
    }
    with pytest.raises(agent_settings.SettingsError) as caught:
        agent_settings.from_env(base | env)
    return str(caught.value)


@pytest.fixture
def build_root():
    """A workspace root the build user owns, outside pytest's private temp directory."""
    assert os.geteuid() == 0, "switching to a build user needs root here (CAP_SETUID on hosts)"
    nobody = pwd.getpwnam("nobody")
    root = Path(tempfile.mkdtemp(prefix="railyard-build-"))
    os.chown(root, nobody.pw_uid, nobody.pw_gid)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def open_root():
    """A directory every user may traverse (pytest's tmp_path is 0700: behind it, any file is
    unreadable to the build user whatever its own mode, and a test of that mode proves nothing)."""
    root = Path(tempfile.mkdtemp(prefix="railyard-agent-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_build_as_the_build_user_cannot_read_the_token_or_the_agent(aws, build_root, open_root):
    token_file = open_root / "agent" / "token"
    agent = Agent(
        open_root,
        aws,
        RAILYARD_BUILD_USER="nobody",
        RAILYARD_BUILD_WORK_DIR=str(build_root),
        RAILYARD_BUILD_COMMAND=probe_command(token_file),
    )
    (open_root / "agent").chmod(0o755)  # only the token's own mode (0600) protects it
    token_file.with_name("control").write_text("readable\n")
    token_file.with_name("control").chmod(0o644)
    try:
        agent.start()
        log = build_log(agent)
    finally:
        agent.stop()

    assert f"uid={pwd.getpwnam('nobody').pw_uid}" in log
    assert "CapEff:\t0000000000000000" in log  # none of the agent's capabilities
    assert "CONTROL-READ" in log  # the build user reaches the token's directory...
    assert "TOKEN-UNREADABLE" in log and TOKEN not in log  # ...and is stopped by its mode alone
    assert "AGENT-ENVIRON-UNREADABLE" in log
    eventually(lambda: not list(build_root.iterdir()), 5, "the build user's workspace remains")


class CapableAgent(Agent):
    """An agent started as ``nobody`` holding the unit's ambient capabilities, as systemd runs
    it (User=, AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL)."""

    CAPS = "+setuid,+setgid,+kill"

    def start(self) -> Agent:
        nobody = pwd.getpwnam("nobody")
        for path in (self.root, *self.root.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        command = [
            shutil.which("setpriv"),
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
            f"--inh-caps=-all,{self.CAPS}",
            f"--ambient-caps={self.CAPS}",
            "--",
            sys.executable,
            "-m",
            "railyard_runtime.agent.server",
        ]
        with (self.root / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        eventually(self._ready, 20, f"agent not ready:\n{self.log}")
        return self

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"agent exited:\n{self.log}"
        try:
            return http.get(self.health_url, timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False


def test_a_build_without_a_build_user_holds_none_of_the_agents_capabilities(aws, open_root):
    token_file = open_root / "agent" / "token"
    agent = CapableAgent(open_root, aws, RAILYARD_BUILD_COMMAND=probe_command(token_file))
    try:
        agent.start()
        status = Path(f"/proc/{agent.process.pid}/status").read_text()
        assert "CapAmb:\t00000000000000e0" in status, status  # the agent does hold them
        log = build_log(agent)
    finally:
        agent.stop()

    assert f"uid={pwd.getpwnam('nobody').pw_uid}" in log  # the agent's own user
    for cap in ("CapEff", "CapPrm", "CapAmb"):
        assert f"{cap}:\t0000000000000000" in log, log


# -- the APK a build leaves -----------------------------------------------------------------

APK_DIR = "app/build/outputs/apk/release"
HOSTILE_APKS = {
    "a link to the token": 'ln -s "$TOKEN" {dir}/app-release.apk',
    "a link to the agent's environ": "ln -s /proc/$PPID/environ {dir}/app-release.apk",
    "a link to /dev/zero": "ln -s /dev/zero {dir}/app-release.apk",
    "a FIFO": "mkfifo {dir}/app-release.apk",
    "a linked directory": 'rmdir {dir} && ln -s "$OUTSIDE" {dir}',
}
REASONS = {
    "a FIFO": "not a regular file",
    "a linked directory": "outside the build's workspace",
}


def _objects(aws: str) -> list[str]:
    listing = s3(aws).list_objects_v2(Bucket=APK_BUCKET)
    return [o["Key"] for o in listing.get("Contents", [])]


@pytest.mark.parametrize("kind", HOSTILE_APKS)
def test_an_apk_that_is_not_the_builds_own_file_is_refused_and_never_uploaded(
    agents, aws, tmp_path, kind
):
    outside = tmp_path / "outside"  # somewhere the agent may read and the workspace is not
    outside.mkdir()
    (outside / "stolen.apk").write_text(f"agent secret {TOKEN}")
    script = f"mkdir -p {APK_DIR} && " + HOSTILE_APKS[kind].format(dir=APK_DIR)
    agent = agents(
        RAILYARD_BUILD_COMMAND=f"sh -c {shlex.quote(script)}",
        TOKEN=str(tmp_path / "agent" / "token"),
        OUTSIDE=str(outside),
        RAILYARD_BUILD_PASS_ENV="TOKEN OUTSIDE",
    )

    started = time.monotonic()
    job = wait_for(agent, submit(agent).json()["id"], State.FAILED, State.SUCCEEDED, timeout=10)

    assert time.monotonic() - started < 5  # a FIFO or an endless device never holds the job
    assert job.state is State.FAILED and job.artifact_url is None, job
    assert f"APK {APK_DIR}/" in job.error and ".apk refused: " in job.error
    assert REASONS.get(kind, "symbolic link") in job.error, job.error
    assert _objects(aws) == []


def test_an_apk_over_the_size_cap_is_refused(agents, aws):
    agent = agents(RAILYARD_APK_MAX_BYTES="16")  # the fake build writes 44 bytes
    job = wait_for(agent, submit(agent).json()["id"], State.FAILED, State.SUCCEEDED)
    assert job.state is State.FAILED
    assert "44 bytes is over RAILYARD_APK_MAX_BYTES=16" in job.error
    assert _objects(aws) == []


def test_the_build_users_own_apk_is_uploaded(agents, aws, build_root):
    agent = agents(RAILYARD_BUILD_USER="nobody", RAILYARD_BUILD_WORK_DIR=str(build_root))
    job = wait_for(agent, submit(agent).json()["id"], State.FAILED, State.SUCCEEDED)
    assert job.state is State.SUCCEEDED, job
    body = s3(aws).get_object(Bucket=APK_BUCKET, Key=f"apks/{SHA}/{job.id}.apk")
    assert body["Body"].read() == f"APK {SHA}".encode()


def test_the_agent_will_not_start_with_a_token_file_the_build_user_can_read(
    aws, build_root, tmp_path
):
    agent = Agent(
        tmp_path, aws, RAILYARD_BUILD_USER="nobody", RAILYARD_BUILD_WORK_DIR=str(build_root)
    )
    agent.token_file.chmod(0o644)
    try:
        with pytest.raises(RuntimeError, match="exited 2"):
            agent.start()
    finally:
        agent.stop()
    assert "RAILYARD_AGENT_TOKEN_FILE" in agent.log
    assert "readable by the build user nobody" in agent.log and "chmod 600" in agent.log


# -- the CLI and the hosts it follows -------------------------------------------------------


class _Recorder:
    """A local HTTP server that records every request's headers and answers ``answer()``."""

    def __init__(self, answer):
        self.requests: list[dict[str, str]] = []
        recorder = self

        class Handler(QuietHandler):
            def _record(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                recorder.requests.append({k.lower(): v for k, v in self.headers.items()})
                status, body = answer(self.path)
                self.reply(status, json.dumps(body).encode())

            do_GET = do_POST = _record

        self.server = LocalServer(Handler)
        self.url = self.server.url


@pytest.mark.parametrize("host_name", ["127.0.0.1", "localhost"])
def test_the_cli_never_sends_the_token_to_a_host_outside_the_farm(tmp_path, monkeypatch, host_name):
    monkeypatch.delenv("RAILYARD_AGENT_NETWORK", raising=False)
    foreign = _Recorder(lambda path: (404, {"error": "not here"}))
    foreign_host = foreign.url.replace("127.0.0.1", host_name)
    job = {"id": "j1", "commit": SHA, "state": "queued", "attempts": 0, "host": foreign_host}
    balancer = _Recorder(lambda path: (202, job | {"createdAt": time.time()}))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    try:
        args = ["--json", "android", "build", "--commit", SHA, "--agent-url", balancer.url]
        args += ["--token-file", str(token_file), "--deadline", "20", "--unreachable-after", "2"]
        result = CliRunner().invoke(app, args)

        assert foreign.requests == []  # not one request: no token, nothing at all
        assert result.exit_code == 2, result.output
        error = json.loads(result.stdout)["error"]
        assert foreign_host in error and "--agent-network" in error
        assert "outside the farm's network" in error or "is not http://<IP address>" in error
        assert balancer.requests[0]["authorization"] == f"Bearer {TOKEN}"  # the LB is trusted
    finally:
        foreign.server.stop()
        balancer.server.stop()


def test_a_load_balancer_answering_no_job_is_a_clear_error(tmp_path):
    balancer = _Recorder(lambda path: (202, {"hello": "world"}))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    try:
        args = ["--json", "android", "build", "--commit", SHA, "--agent-url", balancer.url]
        result = CliRunner().invoke(app, [*args, "--token-file", str(token_file)])
        assert result.exit_code == 2, result.output
        assert "with no build job" in json.loads(result.stdout)["error"]
    finally:
        balancer.server.stop()
