"""``android build`` against real agents behind a load balancer: follow, resubmit, exit codes."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
from agents import TOKEN, LoadBalancer, free_port
from typer.testing import CliRunner

from railyard_runtime.cli import app

SHA = "9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a393f2a"
LOCAL_FARM = "127.0.0.0/8"  # these agents live on loopback, outside the default private ranges


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "agent-token"
    path.write_text(TOKEN)
    return path


@pytest.fixture
def balancers():
    started: list[LoadBalancer] = []

    def start(agents):
        lb = LoadBalancer(agents)
        started.append(lb)
        return lb

    yield start
    for lb in started:
        lb.server.stop()


def build(url: str, token_file, *extra: str):
    args = ["--json", "android", "build", "--commit", SHA, "--agent-url", url]
    args += ["--agent-network", LOCAL_FARM]
    result = CliRunner().invoke(app, [*args, "--token-file", str(token_file), *extra])
    return result, json.loads(result.stdout) if result.stdout.strip() else None


def running_job(agent, timeout: float = 20) -> None:
    """Block until the agent has a running build."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Task :app:assembleRelease" in "".join(
            p.read_text() for p in (agent.root / "data" / "logs").glob("*.log")
        ):
            return
        time.sleep(0.05)
    raise AssertionError("no build started")


def test_builds_through_the_load_balancer_and_prints_the_apk(agents, balancers, token_file):
    agent = agents()
    result, job = build(balancers([agent]).url, token_file)
    assert result.exit_code == 0, result.output
    assert job["state"] == "succeeded"
    assert job["artifactUrl"].startswith(f"oss://railyard-dev-android-apks/apks/{SHA}/")
    assert job["host"] == agent.url


def test_a_host_that_disappears_mid_build_makes_the_cli_resubmit_elsewhere(
    agents, balancers, token_file, tmp_path
):
    doomed = agents("doomed", FAKE_BUILD_GATE=str(tmp_path / "never"))
    survivor = agents("survivor")
    lb = balancers([doomed, survivor])
    threading.Thread(target=lambda: (running_job(doomed), doomed.kill()), daemon=True).start()

    result, job = build(lb.url, token_file, "--host-lost-after", "1", "--deadline", "60")

    assert result.exit_code == 0, result.output
    assert job["host"] == survivor.url and job["state"] == "succeeded"
    assert lb.routed[0] == doomed.url and lb.routed[-1] == survivor.url
    assert "submitting again" in result.stderr


def test_an_interrupted_job_is_resubmitted(agents, balancers, token_file, tmp_path):
    draining = agents("draining", FAKE_BUILD_GATE=str(tmp_path / "never"))
    other = agents("other")
    lb = balancers([draining, other])
    threading.Thread(
        target=lambda: (running_job(draining), draining.signal(signal.SIGTERM)), daemon=True
    ).start()

    result, job = build(lb.url, token_file)

    assert result.exit_code == 0, result.output
    assert job["host"] == other.url
    assert "interrupted" in result.stderr


def test_a_failed_build_exits_1_with_the_log_tail(agents, balancers, token_file):
    result, error = build(balancers([agents(FAKE_BUILD_FAIL="1")]).url, token_file)
    assert result.exit_code == 1
    assert "FAILURE: Build failed" in error["error"]


def test_deadline_exceeded_exits_4(agents, balancers, token_file, tmp_path):
    lb = balancers([agents(FAKE_BUILD_GATE=str(tmp_path / "never"))])
    started = time.monotonic()
    result, error = build(lb.url, token_file, "--deadline", "2")
    assert result.exit_code == 4, result.output
    assert "--deadline 2" in error["error"]
    assert time.monotonic() - started < 10


def test_no_agent_answering_exits_3(token_file):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    result, error = build(url, token_file, "--unreachable-after", "1", "--deadline", "30")
    assert result.exit_code == 3, result.output
    assert "did not answer" in error["error"]


def test_every_submission_lost_exits_3_after_the_bounded_attempts(
    agents, balancers, token_file, tmp_path
):
    gate = str(tmp_path / "never")
    hosts = [agents(f"host{i}", FAKE_BUILD_GATE=gate) for i in range(2)]
    lb = balancers(hosts)

    def reclaim_each():
        for host in hosts:
            running_job(host, 30)
            host.signal(signal.SIGTERM)

    threading.Thread(target=reclaim_each, daemon=True).start()
    result, error = build(lb.url, token_file, "--max-submits", "2")
    assert result.exit_code == 3, result.output
    assert "gave up after 2 submissions" in error["error"]


@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "no agent token"), ("w" * 48, "refused the token")],
)
def test_token_problems_exit_2(idle_agent, balancers, tmp_path, monkeypatch, token, message):
    monkeypatch.delenv("RAILYARD_AGENT_TOKEN", raising=False)
    lb = balancers([idle_agent])  # refused before any job: the module's idle agent will do
    args = ["--json", "android", "build", "--commit", SHA, "--agent-url", lb.url]
    if token:
        (tmp_path / "wrong").write_text(token)
        args += ["--token-file", str(tmp_path / "wrong")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in json.loads(result.stdout)["error"]


def test_the_token_is_never_a_command_line_argument():
    result = CliRunner().invoke(app, ["android", "build", "--help"])
    assert "--token-file" in result.stdout
    assert "--token " not in result.stdout.replace("--token-file", "")


def test_a_bad_commit_exits_2_before_any_request(token_file):
    args = ["--json", "android", "build", "--commit", "HEAD", "--agent-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, [*args, "--token-file", str(token_file)])
    assert result.exit_code == 2
    assert "--commit 'head'" in json.loads(result.stdout)["error"]
