"""Jobs in SQLite, so a restarted agent loses none.

One active job per commit is a unique partial index, not a check-then-insert: two concurrent
POSTs of one commit get the same job. A job found ``running`` when the agent starts was cut
off by a crash or a kill: it is queued again (bounded attempts) or failed, never forgotten.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from railyard_runtime.agent.jobs import ACTIVE, State

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    commit_sha TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    artifact_url TEXT,
    error TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_job_per_commit
    ON jobs (commit_sha) WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
"""

_ACTIVE = tuple(s.value for s in ACTIVE)


class QueueFull(Exception):
    def __init__(self, queued: int):
        super().__init__(f"{queued} jobs queued")
        self.queued = queued


class JobStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a job the API acknowledged survives a crash
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def submit(self, commit: str, max_queued: int | None = None) -> tuple[sqlite3.Row, bool]:
        """The active job of ``commit``, or a new queued one; True when it was created.

        With ``max_queued``, a new job is only made while fewer are queued (checked in the
        INSERT itself, so no burst slips past it); the active job of the commit is still found.
        """
        job_id = str(uuid.uuid4())
        try:
            inserted = self.db.execute(
                """INSERT INTO jobs (id, commit_sha, state, created_at)
                   SELECT ?, ?, ?, ?
                   WHERE ? IS NULL OR (SELECT count(*) FROM jobs WHERE state = 'queued') < ?""",
                (job_id, commit, State.QUEUED.value, time.time(), max_queued, max_queued),
            ).rowcount
        except sqlite3.IntegrityError:
            inserted = 0
        if inserted:
            return self.get(job_id), True
        row = self.db.execute(
            f"SELECT * FROM jobs WHERE commit_sha = ? AND state IN {_ACTIVE}", (commit,)
        ).fetchone()
        if row is None:
            raise QueueFull(self.queued())
        return row, False

    def queued(self) -> int:
        return self.db.execute("SELECT count(*) FROM jobs WHERE state = 'queued'").fetchone()[0]

    def get(self, job_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def claim_next(self) -> sqlite3.Row | None:
        """Oldest queued job, now running (one statement: no two workers take the same job)."""
        return self.db.execute(
            """UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?
               WHERE id = (SELECT id FROM jobs WHERE state = 'queued'
                           ORDER BY created_at LIMIT 1)
               RETURNING *""",
            (time.time(),),
        ).fetchone()

    def finish(
        self, job_id: str, state: State, artifact_url: str | None = None, error: str | None = None
    ) -> None:
        """Only a running job finishes; one interrupted by a drain stays interrupted."""
        self.db.execute(
            """UPDATE jobs SET state = ?, artifact_url = ?, error = ?, finished_at = ?
               WHERE id = ? AND state = 'running'""",
            (state.value, artifact_url, error, time.time(), job_id),
        )

    def recover(self, max_attempts: int) -> list[str]:
        """After a restart: requeue jobs cut off while running, or fail them when out of tries."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cut_off = [
                r["id"] for r in self.db.execute("SELECT id FROM jobs WHERE state = 'running'")
            ]
            self.db.execute(
                """UPDATE jobs SET state = 'failed', finished_at = ?,
                   error = 'the agent stopped during the build ' || attempts || ' times'
                   WHERE state = 'running' AND attempts >= ?""",
                (now, max_attempts),
            )
            self.db.execute(
                """UPDATE jobs SET state = 'queued', started_at = NULL,
                   error = 'the agent restarted during the build; queued again'
                   WHERE state = 'running'"""
            )
        return cut_off

    def interrupt_all(self, reason: str) -> list[str]:
        """Drain: every queued or running job becomes interrupted (the CLI resubmits it)."""
        rows = self.db.execute(
            f"""UPDATE jobs SET state = 'interrupted', error = ?, finished_at = ?
                WHERE state IN {_ACTIVE} RETURNING id""",
            (reason, time.time()),
        ).fetchall()
        return [r["id"] for r in rows]
