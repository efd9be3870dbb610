"""cloud-init of an Android build host: install the pinned agent, run it, watch for spot reclaim.

Pure text rendering. The agent token is never in here: the host reads it from KMS with its
RAM role at start (only the secret's *name* is written). Builds run as their own user,
``railyard-build``, which owns only the build workspaces and may not reach the instance
metadata (the host's RAM role can read the token's secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from railyard_runtime.environment import AGENT_ENV_FILE, AgentEnv, InstanceRoleEnv

METADATA_ROOT = "http://100.100.100.200/latest"
METADATA = f"{METADATA_ROOT}/meta-data"
AGENT_UNIT = "railyard-agent.service"
BUILD_USER = "railyard-build"
BUILD_HOME = "/var/lib/railyard-build"
METADATA_IP = "100.100.100.200"


def health_port_for(agent_port: int) -> int:
    """Plain-HTTP /healthz for the load balancer, next to the authenticated API port."""
    return agent_port + 1


@dataclass(frozen=True)
class BuildHostSettings:
    agent_version: str
    agent_port: int
    token_secret_name: str
    region: str
    apk_bucket: str
    ram_role: str
    package_index: str
    """Where ``railyard-runtime==agent_version`` is published (the simple API)."""
    android_repo: str
    """Git URL the agent fetches each commit from."""

    @property
    def health_port(self) -> int:
        return health_port_for(self.agent_port)


SPOT_WATCH = f"""#!/bin/sh
# Alibaba announces a spot reclaim a few minutes ahead at this metadata path. On notice the
# agent gets SIGTERM: it refuses new jobs (503) and marks running ones interrupted, so the
# pipeline resubmits them to another host. Hosts answer metadata in hardened mode only
# (IMDSv2): every read carries a short-lived token.
while :; do
  token=$(curl -sf -m 2 -X PUT -H "X-aliyun-ecs-metadata-token-ttl-seconds: 60" \
    {METADATA_ROOT}/api/token)
  if curl -sf -m 2 -H "X-aliyun-ecs-metadata-token: $token" \
      {METADATA}/instance/spot/termination-time >/dev/null; then
    systemctl kill --signal=SIGTERM {AGENT_UNIT}
    exit 0
  fi
  sleep 5
done
"""


_NO_METADATA = f"OUTPUT -d {METADATA_IP} -m owner --uid-owner {BUILD_USER} -j REJECT"
BUILD_FIREWALL_UNIT = f"""[Unit]
Description=railyard builds may not reach the instance metadata (the host's RAM role)
Before={AGENT_UNIT}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'iptables -C {_NO_METADATA} 2>/dev/null || iptables -I {_NO_METADATA}'

[Install]
RequiredBy={AGENT_UNIT}
"""


def agent_unit() -> str:
    """The systemd unit the runtime package ships (one definition, used here verbatim)."""
    return resources.files("railyard_runtime.agent").joinpath(AGENT_UNIT).read_text()


def render(s: BuildHostSettings) -> str:
    env = {
        AgentEnv.PORT: s.agent_port,
        AgentEnv.HEALTH_PORT: s.health_port,
        AgentEnv.TOKEN_KMS_SECRET: s.token_secret_name,
        AgentEnv.ALIBABA_REGION: s.region,
        AgentEnv.APK_BUCKET: s.apk_bucket,
        AgentEnv.OSS_ENDPOINT: f"https://s3.oss-{s.region}-internal.aliyuncs.com",  # in-VPC
        AgentEnv.ANDROID_REPO: s.android_repo,
        InstanceRoleEnv.ECS_METADATA: s.ram_role,  # SDK credentials from the instance role
        InstanceRoleEnv.IMDSV1_DISABLED: "true",  # ...fetched in hardened mode (IMDSv2)
        AgentEnv.BUILD_USER: BUILD_USER,
        AgentEnv.BUILD_WORK_DIR: f"{BUILD_HOME}/work",
    }
    watch_unit = f"""[Unit]
Description=railyard spot reclaim watch
After={AGENT_UNIT}

[Service]
ExecStart=/usr/local/bin/railyard-spot-watch
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""
    config = {
        "package_update": True,
        "packages": [
            "python3-venv",
            "openjdk-17-jdk-headless",
            "git",
            "unzip",
            "curl",
            "iptables",
            "util-linux",  # setpriv: the agent starts builds as the build user with it
        ],
        "users": [
            {"name": "railyard", "system": True, "shell": "/usr/sbin/nologin"},
            {
                "name": BUILD_USER,
                "system": True,
                "shell": "/usr/sbin/nologin",
                "homedir": BUILD_HOME,
            },
        ],
        "write_files": [
            {
                "path": str(AGENT_ENV_FILE),
                "permissions": "0640",
                "content": "".join(f"{k}={v}\n" for k, v in env.items()),
            },
            {"path": f"/etc/systemd/system/{AGENT_UNIT}", "content": agent_unit()},
            {"path": "/etc/systemd/system/railyard-spot-watch.service", "content": watch_unit},
            {
                "path": "/etc/systemd/system/railyard-build-firewall.service",
                "content": BUILD_FIREWALL_UNIT,
            },
            {
                "path": "/usr/local/bin/railyard-spot-watch",
                "permissions": "0755",
                "content": SPOT_WATCH,
            },
        ],
        "runcmd": [
            # The build user's home (Gradle's cache) and workspaces; the agent reads APKs there.
            ["install", "-d", "-o", BUILD_USER, "-g", BUILD_USER, "-m", "0755", BUILD_HOME],
            [
                "install",
                "-d",
                "-o",
                BUILD_USER,
                "-g",
                BUILD_USER,
                "-m",
                "0755",
                f"{BUILD_HOME}/work",
            ],
            ["python3", "-m", "venv", "/opt/railyard"],
            [
                "/opt/railyard/bin/pip",
                "install",
                "--index-url",
                s.package_index,
                f"railyard-runtime=={s.agent_version}",
            ],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "railyard-build-firewall.service"],
            ["systemctl", "enable", "--now", AGENT_UNIT, "railyard-spot-watch.service"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=120)
