"""The agent's job store and settings, without a server."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import LocalServer, QuietHandler

from railyard_runtime.agent import settings as agent_settings
from railyard_runtime.agent.jobs import State
from railyard_runtime.agent.server import advertised_url
from railyard_runtime.agent.settings import SettingsError
from railyard_runtime.agent.store import JobStore

SHA = "a" * 40


def test_one_active_job_per_commit_even_from_many_connections(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()

    def submit(_):
        store = JobStore(path)
        try:
            for _ in range(50):
                try:
                    return store.submit(SHA)
                except sqlite3.OperationalError:  # "database is locked": the caller retries
                    continue
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(submit, range(16)))
    assert len({row["id"] for row, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_a_finished_commit_can_be_built_again(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    first, _ = store.submit(SHA)
    store.claim_next()
    store.finish(first["id"], State.SUCCEEDED, "oss://b/k")
    second, created = store.submit(SHA)
    assert created and second["id"] != first["id"]


def test_recovery_requeues_then_fails_a_job_cut_off_too_often(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    job, _ = store.submit(SHA)
    store.claim_next()
    store.close()

    store = JobStore(path)  # restart 1: attempts 1 < 2, queued again
    assert store.recover(max_attempts=2) == [job["id"]]
    assert store.get(job["id"])["state"] == "queued"
    assert store.claim_next()["attempts"] == 2
    store.close()

    store = JobStore(path)  # restart 2: out of attempts
    store.recover(max_attempts=2)
    row = store.get(job["id"])
    assert row["state"] == "failed"
    assert "stopped during the build 2 times" in row["error"]


def test_an_interrupted_job_stays_interrupted_when_its_build_returns(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    job, _ = store.submit(SHA)
    store.claim_next()
    assert store.interrupt_all("draining") == [job["id"]]
    store.finish(job["id"], State.FAILED, error="killed")
    assert store.get(job["id"])["state"] == "interrupted"


BASE = {
    "RAILYARD_AGENT_TOKEN_FILE": "/run/token",
    "RAILYARD_APK_BUCKET": "apks",
    "RAILYARD_ALIBABA_REGION": "cn-hangzhou",
    "RAILYARD_ANDROID_REPO": "https://git.example.com/app.git",
}


def test_settings_from_the_cloud_init_environment():
    s = agent_settings.from_env(BASE | {"RAILYARD_AGENT_PORT": "8443"})
    assert (s.port, s.health_port, s.concurrency) == (8443, 8444, 1)
    assert s.build_command[:2] == ["sh", "-euc"]
    assert "./gradlew --no-daemon assembleRelease" in s.build_command[2]


def test_settings_report_every_problem_with_the_variable_name():
    with pytest.raises(SettingsError) as caught:
        agent_settings.from_env({"RAILYARD_AGENT_PORT": "http", "RAILYARD_AGENT_CONCURRENCY": "0"})
    text = str(caught.value)
    for expected in (
        "RAILYARD_AGENT_PORT='http': must be a whole number from 1 to 65535",
        "RAILYARD_AGENT_CONCURRENCY='0'",
        "RAILYARD_AGENT_TOKEN_FILE or RAILYARD_AGENT_TOKEN_KMS_SECRET",
        "RAILYARD_APK_BUCKET and RAILYARD_ALIBABA_REGION",
        "RAILYARD_ANDROID_REPO",
    ):
        assert expected in text


def test_the_token_comes_from_the_kms_secret_through_the_alibaba_sdk(alibaba_api, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "alibaba-testing")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "alibaba-testing")
    alibaba_api.secrets["railyard-dev-android-agent-token"] = "k" * 48
    env = BASE | {"RAILYARD_AGENT_TOKEN_KMS_SECRET": "railyard-dev-android-agent-token"}
    del env["RAILYARD_AGENT_TOKEN_FILE"]

    token = agent_settings.load_token(agent_settings.from_env(env))

    assert token.get_secret_value() == "k" * 48
    assert "k" * 48 not in repr(token)
    call = alibaba_api.calls[-1]
    assert (call["action"], call["params"]["SecretName"]) == (
        "GetSecretValue",
        "railyard-dev-android-agent-token",
    )


def test_a_short_token_is_refused(tmp_path):
    (tmp_path / "token").write_text("short")
    s = agent_settings.from_env(BASE | {"RAILYARD_AGENT_TOKEN_FILE": str(tmp_path / "token")})
    with pytest.raises(SettingsError, match="at least 32 characters"):
        agent_settings.load_token(s)


class _Metadata(QuietHandler):
    """Alibaba instance metadata in hardened mode: no token, no answer."""

    def do_PUT(self):
        ttl = self.headers.get("X-aliyun-ecs-metadata-token-ttl-seconds")
        self.reply(200 if ttl else 400, b"metadata-token", "text/plain")

    def do_GET(self):
        if self.headers.get("X-aliyun-ecs-metadata-token") != "metadata-token":
            return self.reply(401, b"", "text/plain")
        if self.path == "/latest/meta-data/private-ipv4":
            return self.reply(200, b"10.60.1.17\n", "text/plain")
        return self.reply(404, b"", "text/plain")


def test_the_advertised_url_comes_from_the_metadata_with_a_token():
    server = LocalServer(_Metadata)
    try:
        s = agent_settings.from_env(BASE | {"RAILYARD_AGENT_PORT": "8443"})
        assert advertised_url(s, f"{server.url}/latest") == "http://10.60.1.17:8443"
    finally:
        server.stop()


def test_no_metadata_and_no_advertise_url_is_a_named_error():
    s = agent_settings.from_env(BASE)
    with pytest.raises(SettingsError, match="RAILYARD_AGENT_ADVERTISE_URL: not set"):
        advertised_url(s, "http://127.0.0.1:9/latest")
