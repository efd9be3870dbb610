import yaml

from railyard.cloud_init import BuildHostSettings, render

SETTINGS = BuildHostSettings(
    agent_version="1.2.3",
    agent_port=8443,
    token_secret_name="railyard-dev-android-agent-token",
    region="cn-hangzhou",
    apk_bucket="railyard-dev-android-abc123",
    ram_role="railyard-dev-android-host",
)


def test_is_cloud_config_that_installs_the_pinned_agent_and_starts_it():
    text = render(SETTINGS)
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    pip = next(c for c in doc["runcmd"] if c[0].endswith("/pip"))
    assert "railyard-runtime==1.2.3" in pip
    assert [
        "systemctl",
        "enable",
        "--now",
        "railyard-agent.service",
        "railyard-spot-watch.service",
    ] in doc["runcmd"]


def test_agent_gets_the_secret_name_and_role_never_a_token():
    doc = yaml.safe_load(render(SETTINGS))
    env = next(f for f in doc["write_files"] if f["path"] == "/etc/railyard/agent.env")
    lines = dict(line.split("=", 1) for line in env["content"].splitlines())
    assert lines["RAILYARD_AGENT_TOKEN_KMS_SECRET"] == "railyard-dev-android-agent-token"
    assert lines["ALIBABA_CLOUD_ECS_METADATA"] == "railyard-dev-android-host"
    assert lines["RAILYARD_AGENT_HEALTH_PORT"] == "8444"
    assert not any("TOKEN=" in line for line in env["content"].splitlines())


def test_spot_watch_sends_sigterm_to_the_agent_on_a_reclaim_notice():
    doc = yaml.safe_load(render(SETTINGS))
    script = next(
        f for f in doc["write_files"] if f["path"] == "/usr/local/bin/railyard-spot-watch"
    )
    assert "instance/spot/termination-time" in script["content"]
    assert "systemctl kill --signal=SIGTERM railyard-agent.service" in script["content"]
    assert script["permissions"] == "0755"
