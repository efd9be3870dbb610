"""Runs queued jobs: the build command in a workspace of its own, logs to a file, APK to OSS.

Everything touching the store runs on the event loop's thread; waiters are woken through
one condition whenever any job changes state.

A build is code from the app's repository, so it gets as little of the agent as possible: an
explicit environment (never the agent's own, which names its token and credentials), its own
unprivileged user when ``RAILYARD_BUILD_USER`` is set (it cannot read the token file nor the
agent's memory), never any of the agent's capabilities (every build starts through setpriv),
a workspace removed whatever the outcome, and a log kept only for the retention period. Its APK
is read as the build's own regular file from an open descriptor, never by a path the build
could point elsewhere (the token file, ``/proc``, a FIFO, ``/dev/zero``).
"""

from __future__ import annotations

import asyncio
import errno
import io
import logging
import os
import re
import shutil
import signal
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from railyard_runtime.agent.jobs import ACTIVE, State
from railyard_runtime.agent.settings import BASE_BUILD_ENV, AgentSettings, build_identity
from railyard_runtime.agent.store import JobStore
from railyard_runtime.environment import AgentEnv, BuildEnv

Uploader = Callable[[BinaryIO, str], Awaitable[str]]
"""(the APK, open for reading, object key) -> the artifact's URL."""

LOG_TAIL_BYTES = 8192
KILL_AFTER_SECONDS = 10
"""A build that ignores SIGTERM this long is killed."""
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
BUILD_UMASK = 0o022
"""The agent's own files are private (the unit's UMask=0077); a build's APK must stay readable
by the agent when the build runs as another user."""
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
log = logging.getLogger("railyard.agent")


class WorkspaceError(Exception):
    pass


class ApkRefused(Exception):
    """The build's APK is not a file of its own inside its workspace; the job fails."""


class _Capped(io.RawIOBase):
    """Reads at most ``limit`` bytes of ``fd``: a file still growing is cut at its checked size."""

    def __init__(self, fd: int, limit: int):
        self._fd, self._left = fd, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = os.read(self._fd, min(len(buffer), self._left)) if self._left > 0 else b""
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def open_apk(path: Path, workspace: Path, owner: int | None, max_bytes: int) -> BinaryIO:
    """Open the APK the build left at ``path`` without following a link at its end, without
    waiting on a FIFO or device, and check the open file itself (not the path again): a regular
    file, the build user's own, inside the workspace, at most ``max_bytes``."""
    name = path.relative_to(workspace) if path.is_relative_to(workspace) else path
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as e:
        why = "it is a symbolic link" if e.errno == errno.ELOOP else e.strerror
        raise ApkRefused(f"APK {name} refused: {why}; the build must write the APK itself") from e
    try:
        st = os.fstat(fd)
        real = os.readlink(f"/proc/self/fd/{fd}")
        root = os.path.realpath(workspace)
        if not stat.S_ISREG(st.st_mode):
            why = "it is not a regular file (a FIFO, device or directory)"
        elif owner is not None and st.st_uid != owner:
            why = f"it belongs to uid {st.st_uid}, not the build user (uid {owner})"
        elif os.path.commonpath([real, root]) != root:
            why = "it lies outside the build's workspace (through a linked directory)"
        elif st.st_size > max_bytes:
            why = f"{st.st_size} bytes is over {AgentEnv.APK_MAX_BYTES}={max_bytes}"
        else:
            return io.BufferedReader(_Capped(fd, st.st_size))
        raise ApkRefused(f"APK {name} refused: {why}; the build must write the APK itself")
    except BaseException:
        os.close(fd)
        raise


class Runner:
    def __init__(self, settings: AgentSettings, store: JobStore, upload: Uploader):
        self.settings = settings
        self.store = store
        self.upload = upload
        self.changed = asyncio.Condition()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: set[asyncio.Task] = set()
        self._active: set[str] = set()
        """Jobs whose workspace and log are in use: no sweep touches them."""
        self._launch, self._build_home, self._build_uid = build_identity(settings)
        self.draining = False
        self._closing = False

    @property
    def logs_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def log_path(self, job_id: str) -> Path:
        return self.logs_dir / f"{job_id}.log"

    def workspace(self, job_id: str) -> Path:
        return self.settings.work_dir / job_id

    def build_env(self, job_id: str, commit: str) -> dict[str, str]:
        """Named variables only: the agent's environment holds its settings and credentials."""
        s = self.settings
        env = {k: os.environ[k] for k in (*BASE_BUILD_ENV, *s.build_pass_env) if k in os.environ}
        env.setdefault("PATH", DEFAULT_PATH)
        env |= {"HOME": self._build_home, BuildEnv.COMMIT: commit, BuildEnv.JOB_ID: job_id}
        if s.android_repo:
            env[BuildEnv.ANDROID_REPO] = s.android_repo
        return env

    def log_tail(self, job_id: str, lines: int = 40) -> list[str]:
        path = self.log_path(job_id)
        if not path.exists():
            return []
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            text = f.read().decode(errors="replace")
        return text.splitlines()[-lines:]

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """Start queued jobs whenever a slot is free, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self.draining:
                await self._slots.acquire()
                job = self.store.claim_next()
                if job is None:
                    self._slots.release()
                    break
                await self.notify()
                log.info(
                    "job %s (%s) running, attempt %d", job["id"], job["commit_sha"], job["attempts"]
                )
                task = asyncio.create_task(self._run(job["id"], job["commit_sha"]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: str, commit: str) -> None:
        workspace = self.workspace(job_id)
        self._active.add(job_id)
        try:
            try:
                state, artifact, error = await self._build(job_id, commit, workspace)
            except Exception as e:  # a bug or an OSS outage must fail the job, not hang it
                state, artifact, error = State.FAILED, None, f"agent error: {e}"
            finally:
                self._processes.pop(job_id, None)
            if not self._closing:  # a hard stop leaves it running: the next start requeues it
                self.store.finish(job_id, state, artifact, error)
                log.info("job %s (%s) %s%s", job_id, commit, state, f": {error}" if error else "")
                await self.notify()
        finally:
            await self._remove_workspace(workspace)  # every outcome: success, failure, stop
            self._active.discard(job_id)
            self._slots.release()
            self.wake()

    async def _build(
        self, job_id: str, commit: str, workspace: Path
    ) -> tuple[State, str | None, str | None]:
        s = self.settings
        await self._make_workspace(workspace)  # a retried job starts clean
        self.logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.log_path(job_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with open(fd, "ab") as out:
            process = await asyncio.create_subprocess_exec(
                *self._launch,
                *s.build_command,
                cwd=workspace,
                env=self.build_env(job_id, commit),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: a drain stops Gradle's children
                umask=BUILD_UMASK,
            )
            self._processes[job_id] = process
            try:
                code = await asyncio.wait_for(process.wait(), s.build_timeout_seconds)
            except TimeoutError:
                await _end(process)
                return State.FAILED, None, f"build timed out after {s.build_timeout_seconds:g} s"
        if self.draining:
            return State.INTERRUPTED, None, "the agent is draining"
        if code != 0:
            return State.FAILED, None, f"build command exited with {code}; see the log tail"
        apks = sorted(workspace.glob(s.apk_glob))
        if len(apks) != 1:
            found = ", ".join(p.name for p in apks) or "none"
            return State.FAILED, None, f"expected one APK matching {s.apk_glob!r}, found {found}"
        try:
            apk = await asyncio.to_thread(
                open_apk, apks[0], workspace, self._build_uid, s.apk_max_bytes
            )
        except ApkRefused as e:
            return State.FAILED, None, str(e)
        with apk:
            url = await self.upload(apk, f"apks/{commit}/{job_id}.apk")
        return State.SUCCEEDED, url, None

    async def _as_build(self, *argv: str) -> tuple[int, str]:
        """Run a file tool as the build user: its files are not the agent's to remove."""
        process = await asyncio.create_subprocess_exec(
            *self._launch,
            *argv,
            env={"PATH": DEFAULT_PATH},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            umask=BUILD_UMASK,  # the workspace: the agent reads the APK there
        )
        output, _ = await process.communicate()
        return process.returncode or 0, output.decode(errors="replace").strip()[-500:]

    async def _make_workspace(self, workspace: Path) -> None:
        if self._build_uid is None:
            await asyncio.to_thread(shutil.rmtree, workspace, True)
            workspace.mkdir(parents=True)
            return
        code, output = await self._as_build(
            "sh", "-c", 'rm -rf -- "$1" && mkdir -p -- "$1"', "-", str(workspace)
        )
        if code != 0:
            raise WorkspaceError(
                f"cannot make the workspace {workspace} as {self.settings.build_user} "
                f"({output}); {AgentEnv.BUILD_WORK_DIR} must be writable by that user"
            )

    async def _remove_workspace(self, workspace: Path) -> None:
        if self._build_uid is None:
            await asyncio.to_thread(shutil.rmtree, workspace, True)
        else:
            code, output = await self._as_build("rm", "-rf", "--", str(workspace))
            if code != 0:
                log.warning(
                    "workspace %s not removed (%s); the next start retries", workspace, output
                )

    async def remove_stale_workspaces(self) -> None:
        """At start: workspaces left by a crash or a kill (no job runs yet)."""
        work = self.settings.work_dir
        stale = [p for p in work.iterdir() if JOB_ID.match(p.name)] if work.is_dir() else []
        for workspace in stale:
            if workspace.name not in self._active:
                await self._remove_workspace(workspace)
        if stale:
            log.info("removed %d stale workspace(s)", len(stale))

    def sweep_logs(self) -> int:
        """Remove logs of jobs finished longer than the retention ago (and orphans as old)."""
        if not self.logs_dir.is_dir():
            return 0
        now, removed = time.time(), 0
        for path in self.logs_dir.glob("*.log"):
            job_id = path.stem
            if job_id in self._active:
                continue
            row = self.store.get(job_id)
            if row is not None and State(row["state"]) in ACTIVE:
                continue
            try:
                ended = (row["finished_at"] if row is not None else None) or path.stat().st_mtime
            except FileNotFoundError:
                continue
            if now - ended >= self.settings.log_retention_seconds:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    async def sweep_forever(self) -> None:
        interval = max(1.0, min(self.settings.log_retention_seconds / 2, 300.0))
        while True:
            try:
                self.sweep_logs()
            except Exception:  # a sweep must never stop the agent; the next one retries
                log.exception("log sweep failed")
            await asyncio.sleep(interval)

    async def drain(self, reason: str) -> list[str]:
        """Stop taking jobs, stop running builds, and mark every unfinished job interrupted."""
        self.draining = True
        interrupted = self.store.interrupt_all(reason)
        log.warning("draining: %d unfinished job(s) marked interrupted", len(interrupted))
        for process in list(self._processes.values()):
            _stop(process)
        await self.notify()
        return interrupted

    async def close(self, grace: float = 5) -> None:
        """At exit: kill what still runs and let each job remove its workspace."""
        self._closing = True
        for process in list(self._processes.values()):
            _stop(process, signal.SIGKILL)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)


def _stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:  # a build user's group needs CAP_KILL (the unit grants it)
        log.error("cannot signal build process group %d: the agent lacks CAP_KILL", process.pid)


async def _end(process: asyncio.subprocess.Process) -> None:
    _stop(process)
    try:
        await asyncio.wait_for(process.wait(), KILL_AFTER_SECONDS)
    except TimeoutError:
        _stop(process, signal.SIGKILL)
        await process.wait()
