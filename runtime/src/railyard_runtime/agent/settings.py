"""The agent's settings, from its environment (``/etc/railyard/agent.env`` on a build host).

Every problem is reported at once, naming the variable and the fix; the token itself is read
from a file or from the Alibaba KMS secret the stack created, never from the environment.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

# Production default: check out the commit and run Gradle. RAILYARD_ANDROID_REPO says where from.
DEFAULT_BUILD_COMMAND = (
    'sh -euc \'git init -q . && git fetch -q --depth 1 "$RAILYARD_ANDROID_REPO" '
    '"$RAILYARD_COMMIT" && git checkout -q FETCH_HEAD && ./gradlew --no-daemon assembleRelease\''
)
DEFAULT_APK_GLOB = "app/build/outputs/apk/release/*.apk"


class SettingsError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AgentSettings:
    port: int = 8443
    health_port: int = 8444
    bind: str = "0.0.0.0"
    data_dir: Path = Path("/var/lib/railyard")
    advertise_url: str = ""
    """How other hosts reach this agent directly; default http://<private IP>:<port>."""
    build_command: list[str] = field(default_factory=lambda: shlex.split(DEFAULT_BUILD_COMMAND))
    apk_glob: str = DEFAULT_APK_GLOB
    concurrency: int = 1
    max_attempts: int = 2
    build_timeout_seconds: float = 3600
    region: str = ""
    apk_bucket: str = ""
    oss_endpoint: str = ""
    token_file: Path | None = None
    token_kms_secret: str = ""
    drain_grace_seconds: float = 2.0

    @property
    def database(self) -> Path:
        return self.data_dir / "jobs.sqlite3"


def from_env(env: Mapping[str, str] = os.environ) -> AgentSettings:
    problems: list[str] = []

    def integer(name: str, default: int, low: int, high: int) -> int:
        raw = env.get(name, "")
        if not raw:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            problems.append(f"{name}={raw!r}: must be a whole number from {low} to {high}")
            return default
        return int(raw)

    port = integer("RAILYARD_AGENT_PORT", 8443, 1, 65535)
    settings = AgentSettings(
        port=port,
        health_port=integer("RAILYARD_AGENT_HEALTH_PORT", port + 1, 1, 65535),
        bind=env.get("RAILYARD_AGENT_BIND", "0.0.0.0"),
        data_dir=Path(env.get("RAILYARD_AGENT_DATA_DIR", "/var/lib/railyard")),
        advertise_url=env.get("RAILYARD_AGENT_ADVERTISE_URL", "").rstrip("/"),
        build_command=shlex.split(env.get("RAILYARD_BUILD_COMMAND") or DEFAULT_BUILD_COMMAND),
        apk_glob=env.get("RAILYARD_APK_GLOB") or DEFAULT_APK_GLOB,
        concurrency=integer("RAILYARD_AGENT_CONCURRENCY", 1, 1, 64),
        max_attempts=integer("RAILYARD_AGENT_MAX_ATTEMPTS", 2, 1, 10),
        build_timeout_seconds=integer("RAILYARD_BUILD_TIMEOUT_SECONDS", 3600, 1, 86400),
        region=env.get("RAILYARD_ALIBABA_REGION", ""),
        apk_bucket=env.get("RAILYARD_APK_BUCKET", ""),
        oss_endpoint=env.get("RAILYARD_OSS_ENDPOINT", ""),
        token_file=Path(env["RAILYARD_AGENT_TOKEN_FILE"])
        if env.get("RAILYARD_AGENT_TOKEN_FILE")
        else None,
        token_kms_secret=env.get("RAILYARD_AGENT_TOKEN_KMS_SECRET", ""),
        drain_grace_seconds=integer("RAILYARD_AGENT_DRAIN_GRACE_SECONDS", 2, 0, 60),
    )
    if settings.health_port == settings.port:
        problems.append("RAILYARD_AGENT_HEALTH_PORT: must differ from RAILYARD_AGENT_PORT")
    if not (settings.token_file or settings.token_kms_secret):
        problems.append(
            "RAILYARD_AGENT_TOKEN_FILE or RAILYARD_AGENT_TOKEN_KMS_SECRET: set one, the agent "
            "refuses to run without a bearer token"
        )
    if not settings.apk_bucket or not settings.region:
        problems.append(
            "RAILYARD_APK_BUCKET and RAILYARD_ALIBABA_REGION: both are needed to upload APKs "
            "(the stack writes them into /etc/railyard/agent.env)"
        )
    uses_default = "RAILYARD_BUILD_COMMAND" not in env
    if uses_default and not env.get("RAILYARD_ANDROID_REPO"):
        problems.append(
            "RAILYARD_ANDROID_REPO: the default build command fetches the commit from it; set "
            "it (git URL) or set RAILYARD_BUILD_COMMAND"
        )
    if problems:
        raise SettingsError(problems)
    return settings


def load_token(settings: AgentSettings) -> SecretStr:
    """The bearer token: from a file (tests, manual hosts) or the KMS secret (build hosts)."""
    if settings.token_file is not None:
        try:
            token = settings.token_file.read_text().strip()
        except OSError as e:
            raise SettingsError([f"RAILYARD_AGENT_TOKEN_FILE: cannot read it ({e})"]) from e
    else:
        token = _token_from_kms(settings)
    if len(token) < 32:
        raise SettingsError(["agent token: must be at least 32 characters (the stack makes 48)"])
    return SecretStr(token)


def _token_from_kms(settings: AgentSettings) -> str:
    from alibabacloud_kms20160120 import models
    from alibabacloud_kms20160120.client import Client

    from railyard_runtime.clouds import alibaba_openapi_config

    config = alibaba_openapi_config(
        settings.region, "RAILYARD_KMS_ENDPOINT", f"kms.{settings.region}.aliyuncs.com"
    )
    request = models.GetSecretValueRequest(secret_name=settings.token_kms_secret)
    return Client(config).get_secret_value(request).body.secret_data
