"""Runs queued jobs: the build command in a workspace of its own, logs to a file, APK to OSS.

Everything touching the store runs on the event loop's thread; waiters are woken through
one condition whenever any job changes state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from railyard_runtime.agent.jobs import State
from railyard_runtime.agent.settings import AgentSettings
from railyard_runtime.agent.store import JobStore

Uploader = Callable[[Path, str], Awaitable[str]]
"""(local APK, object key) -> the artifact's URL."""

LOG_TAIL_BYTES = 8192
log = logging.getLogger("railyard.agent")


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
        self.draining = False

    def log_path(self, job_id: str) -> Path:
        return self.settings.data_dir / "logs" / f"{job_id}.log"

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
        try:
            state, artifact, error = await self._build(job_id, commit)
        except Exception as e:  # a bug or an OSS outage must fail the job, not hang it
            state, artifact, error = State.FAILED, None, f"agent error: {e}"
        finally:
            self._processes.pop(job_id, None)
            self._slots.release()
            self.wake()
        self.store.finish(job_id, state, artifact, error)
        log.info("job %s (%s) %s%s", job_id, commit, state, f": {error}" if error else "")
        await self.notify()

    async def _build(self, job_id: str, commit: str) -> tuple[State, str | None, str | None]:
        s = self.settings
        workspace = s.data_dir / "work" / job_id
        shutil.rmtree(workspace, ignore_errors=True)  # a retried job starts clean
        workspace.mkdir(parents=True)
        log = self.log_path(job_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = os.environ | {"RAILYARD_COMMIT": commit, "RAILYARD_JOB_ID": job_id}
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *s.build_command,
                cwd=workspace,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: a drain stops Gradle's children
            )
            self._processes[job_id] = process
            try:
                code = await asyncio.wait_for(process.wait(), s.build_timeout_seconds)
            except TimeoutError:
                _stop(process)
                await process.wait()
                return State.FAILED, None, f"build timed out after {s.build_timeout_seconds:g} s"
        if self.draining:
            return State.INTERRUPTED, None, "the agent is draining"
        if code != 0:
            return State.FAILED, None, f"build command exited with {code}; see the log tail"
        apks = sorted(workspace.glob(s.apk_glob))
        if len(apks) != 1:
            found = ", ".join(p.name for p in apks) or "none"
            return State.FAILED, None, f"expected one APK matching {s.apk_glob!r}, found {found}"
        url = await self.upload(apks[0], f"apks/{commit}/{job_id}.apk")
        shutil.rmtree(workspace, ignore_errors=True)
        return State.SUCCEEDED, url, None

    async def drain(self, reason: str) -> list[str]:
        """Stop taking jobs, stop running builds, and mark every unfinished job interrupted."""
        self.draining = True
        interrupted = self.store.interrupt_all(reason)
        log.warning("draining: %d unfinished job(s) marked interrupted", len(interrupted))
        for process in list(self._processes.values()):
            _stop(process)
        await self.notify()
        return interrupted


def _stop(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
