"""The agent's HTTP API (FastAPI).

- ``POST /builds`` ``{"commit": sha}``: 202 with a new job, 200 with the active job of that
  commit; 429 with ``Retry-After`` when the queue is full; 503 while draining.
- ``GET /builds/{id}``: the job, its log tail and artifact URL.
- ``GET /builds/{id}/wait?state=S&timeout=T``: answers as soon as the job is no longer in
  state ``S``, or after ``T`` seconds with the job as it is (long poll).
- ``GET /healthz``: no auth; the only route on the health port (the load balancer's check).
Every ``/builds`` route needs ``Authorization: Bearer <token>`` (compared in constant time).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import sqlite3
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from railyard_runtime.agent.jobs import BuildRequest, Job, State
from railyard_runtime.agent.runner import Runner
from railyard_runtime.agent.store import JobStore, QueueFull
from railyard_runtime.environment import AgentEnv

MAX_BODY_BYTES = 4096
MAX_WAIT_SECONDS = 60
QUEUE_FULL_RETRY_AFTER = 15
"""Seconds a client waits before submitting again when the queue is full."""


class ApiError(Exception):
    """Answered as ``{"error": message}`` with its status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class BodyLimit:
    """413 for a body over the limit, declared or streamed, before the app sees any of it.

    Bodies here are a few bytes of JSON: reading them whole up front and replaying them is
    cheaper than teaching every layer above about a limit.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = JSONResponse({"error": f"request body over {self.limit} bytes"}, 413)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_large(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await too_large(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: only the disconnect is left
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def create_app(
    store: JobStore, runner: Runner, token: SecretStr, host_url: str, health_port: int | None
) -> FastAPI:
    app = FastAPI(title="railyard build agent", docs_url=None, redoc_url=None, openapi_url=None)
    expected = token.get_secret_value().encode()

    def job_view(row: sqlite3.Row, with_log: bool = True) -> Job:
        return Job(
            id=row["id"],
            commit=row["commit_sha"],
            state=State(row["state"]),
            attempts=row["attempts"],
            host=host_url,
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            artifact_url=row["artifact_url"],
            error=row["error"],
            log_tail=runner.log_tail(row["id"]) if with_log else [],
        )

    def authorized(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
            raise ApiError(
                401,
                "missing or wrong bearer token (Authorization: Bearer <agent token>)",
                {"WWW-Authenticate": 'Bearer realm="railyard-agent"'},
            )

    def existing(job_id: str) -> sqlite3.Row:
        row = store.get(job_id)
        if row is None:
            raise ApiError(404, f"no job {job_id!r} on this agent ({host_url})")
        return row

    Auth = Depends(authorized)

    @app.middleware("http")
    async def health_port_serves_health_only(request: Request, call_next):
        port = request.scope.get("server", (None, None))[1]
        if health_port is not None and port == health_port and request.url.path != "/healthz":
            return JSONResponse({"error": "the health port serves /healthz only"}, 404)
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in e.errors()
        ]
        return JSONResponse({"error": "; ".join(problems)}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if runner.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.post("/builds", dependencies=[Auth], response_model=Job)
    async def submit(request: BuildRequest) -> JSONResponse:
        if runner.draining:
            raise ApiError(503, "this agent is draining: submit through the load balancer")
        try:
            row, created = store.submit(request.commit, runner.settings.max_queued)
        except QueueFull as e:
            raise ApiError(
                429,
                f"the build queue of this agent is full ({e.queued} jobs queued, "
                f"{AgentEnv.MAX_QUEUED}={runner.settings.max_queued}): submit again after "
                f"{QUEUE_FULL_RETRY_AFTER} s through the load balancer",
                {"Retry-After": str(QUEUE_FULL_RETRY_AFTER)},
            ) from e
        if created:
            runner.wake()
        body = job_view(row).model_dump(mode="json", by_alias=True)
        return JSONResponse(body, status_code=202 if created else 200)

    @app.get("/builds/{job_id}", dependencies=[Auth], response_model=Job)
    async def status(job_id: str) -> Job:
        return job_view(existing(job_id))

    @app.get("/builds/{job_id}/wait", dependencies=[Auth], response_model=Job)
    async def wait(
        job_id: str,
        state: Annotated[State, Query(description="The state the caller last saw.")],
        timeout: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 30,
    ) -> Job:
        existing(job_id)

        def moved() -> bool:
            return store.get(job_id)["state"] != state.value

        async with runner.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(runner.changed.wait_for(moved), timeout)
        return job_view(existing(job_id))

    return app


def guarded(app: FastAPI) -> ASGIApp:
    """The app behind the body-size limit (outermost, before any parsing)."""
    return BodyLimit(app, MAX_BODY_BYTES)
