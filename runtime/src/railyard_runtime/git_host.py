"""When a commit was made, from the git host's API (GitHub's commits endpoint).

A release started by a push carries its commit time from the push itself; one started by
hand does not, and the run's exit event looks it up here so lead time still has a start. The
lookup is a courtesy to the report: it never holds up or fails the event it belongs to.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from urllib.parse import quote

import httpx
from pydantic import AwareDatetime, BaseModel, ValidationError

from railyard_runtime.scans.code import github_headers

log = logging.getLogger("railyard.git_host")
MAX_BODY = 4 << 20  # a commit with a huge diff still has its date in the first screen


class _Person(BaseModel):
    date: AwareDatetime


class _Commit(BaseModel):
    committer: _Person


class _Answer(BaseModel):
    commit: _Commit


def commit_time(
    api_url: str, token: str, repository: str, sha: str, timeout: float = 10
) -> datetime | None:
    """The committer time of ``repository@sha``, or None (with a warning) if the API cannot
    say: unreachable, refused, not found, or an answer without a zoned date."""
    path = f"/repos/{repository}/commits/{quote(sha, safe='')}"
    give_up = time.monotonic() + timeout  # in all: a server trickling bytes gets no longer
    try:
        with (
            httpx.Client(base_url=api_url, headers=github_headers(token), timeout=timeout) as http,
            http.stream("GET", path) as answer,
        ):
            if answer.status_code != 200:
                log.warning("commit time: %s answered %s", path, answer.status_code)
                return None
            body = b""
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    log.warning("commit time: %s answered more than %s bytes", path, MAX_BODY)
                    return None
                if time.monotonic() > give_up:
                    log.warning("commit time: %s took longer than %s s", path, timeout)
                    return None
        return _Answer.model_validate_json(body).commit.committer.date
    except (httpx.HTTPError, ValidationError) as e:
        log.warning("commit time: %s: %s", path, type(e).__name__)
        return None
