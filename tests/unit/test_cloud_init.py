from importlib import resources

import yaml

from railyard.cloud_init import BuildHostSettings, render
from railyard_runtime.agent import settings as agent_settings

SETTINGS = BuildHostSettings(
    agent_version="1.2.3",
    agent_port=8443,
    token_secret_name="railyard-dev-android-agent-token",
    region="cn-hangzhou",
    apk_bucket="railyard-dev-android-abc123",
    ram_role="railyard-dev-android-host",
    package_index="https://packages.example.com/pypi/simple/",
    android_repo="https://git.example.com/mobile/android-app.git",
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


def _agent_env(doc) -> dict[str, str]:
    env = next(f for f in doc["write_files"] if f["path"] == "/etc/railyard/agent.env")
    return dict(line.split("=", 1) for line in env["content"].splitlines())


def test_the_agent_accepts_the_environment_cloud_init_writes():
    """The contract between the host and the runtime package, checked by the agent's parser."""
    env = _agent_env(yaml.safe_load(render(SETTINGS)))
    s = agent_settings.from_env(env)
    assert (s.port, s.health_port) == (8443, 8444)
    assert s.token_kms_secret == "railyard-dev-android-agent-token"
    assert s.oss_endpoint == "https://s3.oss-cn-hangzhou-internal.aliyuncs.com"
    assert env["RAILYARD_ANDROID_REPO"] == SETTINGS.android_repo
    assert s.build_command[:2] == ["sh", "-euc"]  # the Gradle default, fetching from that repo


def test_the_agent_unit_is_the_one_the_runtime_package_ships():
    doc = yaml.safe_load(render(SETTINGS))
    unit = next(f for f in doc["write_files"] if f["path"].endswith("/railyard-agent.service"))
    shipped = resources.files("railyard_runtime.agent").joinpath("railyard-agent.service")
    assert unit["content"] == shipped.read_text()
    assert "ExecStart=/opt/railyard/bin/railyard-agent" in unit["content"]
    assert "KillSignal=SIGTERM" in unit["content"]


def test_hosts_install_the_runtime_from_the_configured_index():
    doc = yaml.safe_load(render(SETTINGS))
    pip = next(c for c in doc["runcmd"] if c[0].endswith("/pip"))
    assert pip[pip.index("--index-url") + 1] == SETTINGS.package_index
    assert "git" in doc["packages"]


def test_the_agent_unit_keeps_its_state_private_and_builds_walled_off():
    """The build user must not read the job database or logs; builds reach no metadata."""
    text = render(SETTINGS)
    doc = yaml.safe_load(text)
    unit = next(f for f in doc["write_files"] if f["path"].endswith("/railyard-agent.service"))
    lines = unit["content"].splitlines()
    assert "StateDirectory=railyard" in lines
    assert "StateDirectoryMode=0700" in lines
    assert "UMask=0077" in lines
    assert "User=railyard" in lines
    assert "NoNewPrivileges=true" in lines

    env = _agent_env(doc)
    assert env["RAILYARD_BUILD_USER"] == "railyard-build"
    assert env["RAILYARD_BUILD_WORK_DIR"] == "/var/lib/railyard-build/work"
    assert {u["name"] for u in doc["users"]} == {"railyard", "railyard-build"}
    assert "util-linux" in doc["packages"]  # setpriv, which every build is started through

    firewall = next(f for f in doc["write_files"] if f["path"].endswith("build-firewall.service"))
    assert (
        "OUTPUT -d 100.100.100.200 -m owner --uid-owner railyard-build -j REJECT"
        in firewall["content"]
    )
    assert "RequiredBy=railyard-agent.service" in firewall["content"]
    assert ["systemctl", "enable", "railyard-build-firewall.service"] in doc["runcmd"]
