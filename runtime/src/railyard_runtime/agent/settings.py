"""The agent's settings, from its environment (``/etc/railyard/agent.env`` on a build host;
the names: ``railyard_runtime.environment.AgentEnv``).

Every problem is reported at once, naming the variable and the fix; the token itself is read
from a file or from the Alibaba KMS secret the stack created, never from the environment.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from railyard_runtime.environment import AGENT_ENV_FILE, AGENT_ONLY_ENV, AgentEnv, BuildEnv

# Production default: check out the commit and run Gradle; the agent's git URL says where from.
DEFAULT_BUILD_COMMAND = (
    f'sh -euc \'git init -q . && git fetch -q --depth 1 "${BuildEnv.ANDROID_REPO}" '
    f'"${BuildEnv.COMMIT}" && git checkout -q FETCH_HEAD && ./gradlew --no-daemon assembleRelease\''
)
DEFAULT_APK_GLOB = "app/build/outputs/apk/release/*.apk"
BASE_BUILD_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "JAVA_HOME", "ANDROID_HOME", "ANDROID_SDK_ROOT")
"""Variables a build gets from the agent's environment; nothing else of it (no credentials)."""
HEALTH_MAX_CONNECTIONS = 32
"""Connections the health port keeps; the load balancer's checks need a handful."""
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]*[$]?$")


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
    android_repo: str = ""
    max_queued: int = 16
    """Jobs waiting for a slot; more get 429 with Retry-After (another host may have room)."""
    max_connections: int = 512
    """Open connections on the API port; at the cap a new one replaces the oldest idle one."""
    request_timeout_seconds: float = 10
    """Time a client has to send a whole request (head and body), else it is disconnected."""
    log_retention_seconds: float = 7 * 86400
    """How long a finished job's log stays (its tail is in the job's answer until then)."""
    build_user: str = ""
    """Unprivileged user builds run as (through setpriv); empty: the agent's own user."""
    build_work_dir: Path | None = None
    """Where workspaces are made (writable by the build user); default <data dir>/work."""
    build_pass_env: tuple[str, ...] = ()
    """Extra variables passed from the agent's environment to builds."""
    apk_max_bytes: int = 1 << 30
    """Largest APK the agent uploads; a bigger one fails its job."""

    @property
    def database(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def work_dir(self) -> Path:
        return self.build_work_dir or self.data_dir / "work"


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

    port = integer(AgentEnv.PORT, 8443, 1, 65535)
    settings = AgentSettings(
        port=port,
        health_port=integer(AgentEnv.HEALTH_PORT, port + 1, 1, 65535),
        bind=env.get(AgentEnv.BIND, "0.0.0.0"),
        data_dir=Path(env.get(AgentEnv.DATA_DIR, "/var/lib/railyard")),
        advertise_url=env.get(AgentEnv.ADVERTISE_URL, "").rstrip("/"),
        build_command=shlex.split(env.get(AgentEnv.BUILD_COMMAND) or DEFAULT_BUILD_COMMAND),
        apk_glob=env.get(AgentEnv.APK_GLOB) or DEFAULT_APK_GLOB,
        concurrency=integer(AgentEnv.CONCURRENCY, 1, 1, 64),
        max_attempts=integer(AgentEnv.MAX_ATTEMPTS, 2, 1, 10),
        build_timeout_seconds=integer(AgentEnv.BUILD_TIMEOUT_SECONDS, 3600, 1, 86400),
        region=env.get(AgentEnv.ALIBABA_REGION, ""),
        apk_bucket=env.get(AgentEnv.APK_BUCKET, ""),
        oss_endpoint=env.get(AgentEnv.OSS_ENDPOINT, ""),
        token_file=Path(env[AgentEnv.TOKEN_FILE]) if env.get(AgentEnv.TOKEN_FILE) else None,
        token_kms_secret=env.get(AgentEnv.TOKEN_KMS_SECRET, ""),
        drain_grace_seconds=integer(AgentEnv.DRAIN_GRACE_SECONDS, 2, 0, 60),
        android_repo=env.get(AgentEnv.ANDROID_REPO, ""),
        max_queued=integer(AgentEnv.MAX_QUEUED, 16, 1, 10000),
        max_connections=integer(AgentEnv.MAX_CONNECTIONS, 512, 16, 60000),
        request_timeout_seconds=integer(AgentEnv.REQUEST_TIMEOUT_SECONDS, 10, 1, 300),
        log_retention_seconds=integer(AgentEnv.LOG_RETENTION_SECONDS, 7 * 86400, 0, 10**8),
        build_user=env.get(AgentEnv.BUILD_USER, "").strip(),
        build_work_dir=Path(env[AgentEnv.BUILD_WORK_DIR])
        if env.get(AgentEnv.BUILD_WORK_DIR)
        else None,
        build_pass_env=tuple(env.get(AgentEnv.BUILD_PASS_ENV, "").replace(",", " ").split()),
        apk_max_bytes=integer(AgentEnv.APK_MAX_BYTES, 1 << 30, 1, 1 << 36),
    )
    if settings.build_user and not USER_NAME.match(settings.build_user):
        problems.append(
            f"{AgentEnv.BUILD_USER}={settings.build_user!r}: not a user name (e.g. railyard-build)"
        )
    for name in settings.build_pass_env:
        if not ENV_NAME.match(name):
            problems.append(f"{AgentEnv.BUILD_PASS_ENV}: {name!r} is not a variable name")
        elif name.startswith(AGENT_ONLY_ENV):
            problems.append(
                f"{AgentEnv.BUILD_PASS_ENV}: {name} is the agent's own setting or credential; "
                "builds never get it (remove it)"
            )
    if settings.build_work_dir is not None and not settings.build_work_dir.is_absolute():
        problems.append(f"{AgentEnv.BUILD_WORK_DIR}: must be an absolute path")
    if settings.health_port == settings.port:
        problems.append(f"{AgentEnv.HEALTH_PORT}: must differ from {AgentEnv.PORT}")
    if not (settings.token_file or settings.token_kms_secret):
        problems.append(
            f"{AgentEnv.TOKEN_FILE} or {AgentEnv.TOKEN_KMS_SECRET}: set one, the agent "
            "refuses to run without a bearer token"
        )
    if not settings.apk_bucket or not settings.region:
        problems.append(
            f"{AgentEnv.APK_BUCKET} and {AgentEnv.ALIBABA_REGION}: both are needed to upload "
            f"APKs (the stack writes them into {AGENT_ENV_FILE})"
        )
    uses_default = AgentEnv.BUILD_COMMAND not in env
    if uses_default and not env.get(AgentEnv.ANDROID_REPO):
        problems.append(
            f"{AgentEnv.ANDROID_REPO}: the default build command fetches the commit from it; "
            f"set it (git URL) or set {AgentEnv.BUILD_COMMAND}"
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
            raise SettingsError([f"{AgentEnv.TOKEN_FILE}: cannot read it ({e})"]) from e
    else:
        token = _token_from_kms(settings)
    if len(token) < 32:
        raise SettingsError(["agent token: must be at least 32 characters (the stack makes 48)"])
    if settings.token_file is not None and settings.build_user:
        user = pwd.getpwnam(settings.build_user)  # checked to exist by host_problems
        if readable_by(settings.token_file, user):
            mode = settings.token_file.stat().st_mode & 0o777
            raise SettingsError(
                [
                    f"{AgentEnv.TOKEN_FILE}: {settings.token_file} (mode {mode:04o}) is "
                    f"readable by the build user {settings.build_user}; make it the agent "
                    "user's own with chmod 600"
                ]
            )
    return SecretStr(token)


def readable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` can read ``path`` by its mode (or make it readable: its owner can)."""
    st = path.stat()
    if st.st_uid == user.pw_uid:
        return True
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    return bool(st.st_mode & 0o004 or (st.st_mode & 0o040 and st.st_gid in groups))


def host_problems(settings: AgentSettings) -> list[str]:
    """What this host lacks for these settings (checked at start, not when parsing)."""
    if shutil.which("setpriv") is None:
        return [
            "setpriv (util-linux) is not on the PATH: every build is started through it so it "
            "holds none of the agent's capabilities; install util-linux"
        ]
    if not settings.build_user:
        return []
    try:
        user = pwd.getpwnam(settings.build_user)
    except KeyError:
        return [
            f"{AgentEnv.BUILD_USER}={settings.build_user}: no such user on this host; create it "
            "(cloud-init makes railyard-build) or unset the variable"
        ]
    problems = []
    if user.pw_uid == 0:
        problems.append(f"{AgentEnv.BUILD_USER}={settings.build_user}: must not be root")
    elif user.pw_uid == os.geteuid():
        problems.append(
            f"{AgentEnv.BUILD_USER}={settings.build_user}: is the agent's own user; builds must "
            "run as another one so they cannot read the agent's token"
        )
    return problems


def build_identity(settings: AgentSettings) -> tuple[list[str], str, int | None]:
    """The command prefix every build runs behind, the build's home, and the uid that owns
    its files (None: the agent's own user)."""
    setpriv = shutil.which("setpriv") or "setpriv"  # host_problems refuses to start without it
    # Whoever the build runs as, it holds none of the capabilities the agent has to switch
    # users and stop builds (the unit's ambient set would pass them on to a plain exec);
    # --no-new-privs keeps setuid programs (sudo) from giving any back.
    drop = ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    if not settings.build_user:
        return [setpriv, *drop, "--"], os.environ.get("HOME", "/"), None
    user = pwd.getpwnam(settings.build_user)
    switch = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    return [setpriv, *switch, *drop, "--"], user.pw_dir, user.pw_uid


def _token_from_kms(settings: AgentSettings) -> str:
    from alibabacloud_kms20160120 import models
    from alibabacloud_kms20160120.client import Client

    from railyard_runtime.clouds import alibaba_openapi_config

    config = alibaba_openapi_config(
        settings.region, AgentEnv.KMS_ENDPOINT, f"kms.{settings.region}.aliyuncs.com"
    )
    request = models.GetSecretValueRequest(secret_name=settings.token_kms_secret)
    return Client(config).get_secret_value(request).body.secret_data
