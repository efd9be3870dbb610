"""The build agent as a real HTTP server: jobs, auth, limits, restarts and drains."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import httpx
import pytest
from agents import APK_BUCKET, TOKEN, http, s3, wait_for

from railyard_runtime.agent.jobs import Job, State
from railyard_runtime.android import AgentClient, BuildPolicy

SHA = "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"


def submit(agent, commit: str = SHA, token: str = TOKEN) -> httpx.Response:
    return http.post(f"{agent.url}/builds", json={"commit": commit}, headers=agent.headers(token))


def test_a_build_runs_and_its_apk_lands_in_oss(agents, aws):
    agent = agents()
    answer = submit(agent)
    assert answer.status_code == 202
    job = Job.model_validate(answer.json())
    assert (job.commit, job.host) == (SHA, agent.url)

    done = wait_for(agent, job.id, State.SUCCEEDED, State.FAILED)

    assert done.state is State.SUCCEEDED, done.error
    assert done.artifact_url == f"oss://{APK_BUCKET}/apks/{SHA}/{job.id}.apk"
    apk = s3(aws).get_object(Bucket=APK_BUCKET, Key=f"apks/{SHA}/{job.id}.apk")
    assert apk["Body"].read() == b"APK " + SHA.encode()
    assert any("BUILD SUCCESSFUL" in line for line in done.log_tail)


def test_duplicate_posts_of_one_commit_give_one_job(agents, tmp_path):
    agent = agents(FAKE_BUILD_GATE=str(tmp_path / "gate"))
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: submit(agent, SHA.upper()), range(10)))

    assert sorted(a.status_code for a in answers) == [200] * 9 + [202]
    assert len({a.json()["id"] for a in answers}) == 1
    assert submit(agent, SHA[:12]).json()["id"] != answers[0].json()["id"]  # another commit id


def test_a_failed_build_reports_why_with_the_log_tail(agents):
    agent = agents(FAKE_BUILD_FAIL="1")
    job = wait_for(agent, submit(agent).json()["id"], State.SUCCEEDED, State.FAILED)
    assert job.state is State.FAILED
    assert "exited with 3" in job.error
    assert any("FAILURE: Build failed" in line for line in job.log_tail)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [
        ({"headers": {}}, 401, "bearer token"),
        ({"headers": {"Authorization": "Bearer " + "x" * 48}}, 401, "bearer token"),
        ({"headers": {"Authorization": "Basic " + TOKEN}}, 401, "bearer token"),
        ({"json": {"commit": "main"}}, 422, "commit: Value error, must be a git commit SHA"),
        ({"json": {"commit": "abc12"}}, 422, "7 to 40 hexadecimal"),
        ({"json": {"commit": SHA, "extra": 1}}, 422, "extra: Extra inputs are not permitted"),
        ({"content": b"{not json", "headers_json": True}, 422, "JSON decode error"),
        ({"json": {"commit": SHA, "pad": "x" * 5000}}, 413, "over 4096 bytes"),
    ],
)
def test_bad_requests_get_a_clear_4xx(idle_agent, request_kwargs, status, message):
    agent = idle_agent
    headers = request_kwargs.pop("headers", agent.headers())
    if request_kwargs.pop("headers_json", False):
        headers = headers | {"content-type": "application/json"}
    request_kwargs.setdefault("json", {"commit": SHA})
    if "content" in request_kwargs:
        request_kwargs.pop("json")
    answer = http.post(f"{agent.url}/builds", headers=headers, **request_kwargs)
    assert answer.status_code == status
    assert message in answer.json()["error"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
    with closing(sqlite3.connect(agent.root / "data" / "jobs.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone() == (0,)  # nothing queued


def test_a_streamed_body_over_the_limit_is_refused(idle_agent):
    agent = idle_agent

    def chunks():
        for _ in range(10):
            yield b"x" * 1024

    answer = http.post(f"{agent.url}/builds", content=chunks(), headers=agent.headers())
    assert answer.status_code == 413


def test_unknown_jobs_and_the_health_port(idle_agent):
    agent = idle_agent
    assert http.get(f"{agent.url}/builds/nope", headers=agent.headers()).status_code == 404
    assert http.get(f"{agent.url}/builds/nope").status_code == 401
    assert http.get(agent.health_url).json() == {"status": "ok"}
    health_root = agent.health_url.removesuffix("/healthz")
    answer = http.post(f"{health_root}/builds", json={"commit": SHA}, headers=agent.headers())
    assert answer.status_code == 404  # the health port serves nothing else
    wait = http.get(f"{agent.url}/builds/x/wait", params={"state": "done"}, headers=agent.headers())
    assert wait.status_code == 422 and "state" in wait.json()["error"]


def test_routing_misses_and_unreadable_requests_get_json_answers(idle_agent):
    agent, auth = idle_agent, idle_agent.headers()
    missing = http.get(f"{agent.url}/nowhere", headers=auth)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    for method, path in [("DELETE", "/builds"), ("HEAD", "/healthz"), ("POST", "/builds/x")]:
        answer = http.request(method, f"{agent.url}{path}", headers=auth)
        assert answer.status_code == 405, (method, path)
        assert answer.headers["allow"] in ("GET", "POST")
    unreadable = http.post(
        f"{agent.url}/builds",
        content=b'{"commit": "\xff"}',  # not UTF-8
        headers=auth | {"content-type": "application/json"},
    )
    assert (unreadable.status_code, unreadable.json()) == (
        400,
        {"detail": "There was an error parsing the body"},
    )
    cases = [
        ({}, b"", "body: Field required"),
        (
            {"content-type": "text/plain"},
            json.dumps({"commit": SHA}).encode(),
            "body: Input should",
        ),
        ({"content-type": "application/json"}, b"null", "body: Input should be a valid dict"),
    ]
    for headers, content, message in cases:
        answer = http.post(f"{agent.url}/builds", content=content, headers=auth | headers)
        assert answer.status_code == 422 and answer.json()["error"].startswith(message), answer.text
    wait = http.get(
        f"{agent.url}/builds/x/wait", params={"timeout": "61"}, headers=auth
    )  # every problem at once, before the job is looked up
    assert wait.status_code == 422
    assert wait.json()["error"] == (
        "query.state: Field required; query.timeout: Input should be less than or equal to 60"
    )
    # a malformed body is refused as such even without the token, a well-formed one is not
    no_token = {"content-type": "application/json"}
    assert http.post(f"{agent.url}/builds", content=b"{x", headers=no_token).status_code == 422
    assert http.post(f"{agent.url}/builds", content=b"{}", headers=no_token).status_code == 401


def test_a_killed_and_restarted_agent_still_reports_the_job(agents, tmp_path):
    gate = tmp_path / "gate"
    agent = agents(FAKE_BUILD_GATE=str(gate))
    job_id = submit(agent).json()["id"]
    wait_for(agent, job_id, State.RUNNING)

    agent.kill()
    agent.start()

    again = wait_for(agent, job_id, State.QUEUED, State.RUNNING)
    assert again.commit == SHA
    assert "restarted" in again.error
    gate.touch()
    done = wait_for(agent, job_id, State.SUCCEEDED, State.FAILED)
    assert (done.state, done.attempts) == (State.SUCCEEDED, 2)


def test_sigterm_drains_new_jobs_get_503_running_ones_are_interrupted(agents, tmp_path):
    agent = agents(FAKE_BUILD_GATE=str(tmp_path / "gate"), RAILYARD_AGENT_DRAIN_GRACE_SECONDS="3")
    job = Job.model_validate(submit(agent).json())
    job = wait_for(agent, job.id, State.RUNNING)
    waiter = AgentClient(TOKEN, BuildPolicy(), http)
    seen: list[Job] = []
    watching = threading.Thread(target=lambda: seen.append(waiter.wait(job, 30)))
    watching.start()
    time.sleep(0.2)

    agent.signal(signal.SIGTERM)

    watching.join(timeout=10)
    assert seen and seen[0].state is State.INTERRUPTED  # the long poll hears it at once
    assert submit(agent, "a" * 40).status_code == 503
    assert http.get(agent.health_url).status_code == 503
    assert agent.wait_exit(20) == 0
    agent.start()
    assert wait_for(agent, job.id, State.INTERRUPTED).state is State.INTERRUPTED  # not requeued


def test_the_long_poll_notices_completion_within_two_seconds(agents, tmp_path):
    gate = tmp_path / "gate"
    agent = agents(FAKE_BUILD_GATE=str(gate))
    job = wait_for(agent, submit(agent).json()["id"], State.RUNNING)
    answered: list[tuple[Job, float]] = []

    def long_poll():
        result = AgentClient(TOKEN, BuildPolicy(), http).wait(job, 30)
        answered.append((result, time.time()))

    watching = threading.Thread(target=long_poll)
    watching.start()
    time.sleep(0.3)
    gate.touch()
    watching.join(timeout=30)

    done, heard_at = answered[0]
    assert done.state is State.SUCCEEDED
    assert heard_at - done.finished_at <= 2.0
