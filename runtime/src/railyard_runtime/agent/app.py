"""The agent's HTTP API (Starlette, with pydantic models).

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
import email.message
import hmac
import json
import sqlite3
from typing import Annotated, Any

from pydantic import Field, SecretStr, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from railyard_runtime.agent.jobs import BuildRequest, Job, State
from railyard_runtime.agent.runner import Runner
from railyard_runtime.agent.store import JobStore, QueueFull
from railyard_runtime.environment import AgentEnv

MAX_BODY_BYTES = 4096
MAX_WAIT_SECONDS = 60
QUEUE_FULL_RETRY_AFTER = 15
"""Seconds a client waits before submitting again when the queue is full."""
_BUILD_REQUEST = TypeAdapter(BuildRequest)
_STATE = TypeAdapter(State)
_WAIT_TIMEOUT = TypeAdapter(Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS)])


class ApiError(Exception):
    """Answered as ``{"error": message}`` with its status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class InvalidRequest(Exception):
    """A request's problems as pydantic reports them (``loc``, ``msg``); answered 422."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(errors)
        self.errors = errors


_ABSENT = object()
"""An empty body or an absent query parameter (JSON ``null`` is a value, and a wrong one)."""


def _missing(loc: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def _checked(adapter: TypeAdapter, value: Any, loc: tuple[str, ...], errors: list) -> Any:
    """``value`` validated by ``adapter``, or None with its problems added to ``errors``."""
    if value is _ABSENT:
        errors.append(_missing(loc))
        return None
    try:
        return adapter.validate_python(value, from_attributes=True)
    except ValidationError as e:
        errors.extend({**err, "loc": (*loc, *err["loc"])} for err in e.errors(include_url=False))
        return None


async def _body(request: Request) -> Any:
    """The body as the API reads it: parsed JSON when declared so (``application/json`` or
    ``+json``), else its raw bytes, which no model accepts; ``_ABSENT`` when empty."""
    try:
        body = await request.body()
        if not body:
            return _ABSENT
        declared = request.headers.get("content-type")
        if declared:
            content_type = email.message.Message()
            content_type["content-type"] = declared
            subtype = content_type.get_content_subtype()
            if content_type.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")
            ):
                return json.loads(body)
        return body
    except json.JSONDecodeError as e:
        raise InvalidRequest(
            [{"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode error"}]
        ) from e
    except Exception as e:  # not UTF-8, a client gone: nothing to validate
        raise HTTPException(400, "There was an error parsing the body") from e


def _job_response(job: Job) -> Response:
    return Response(job.model_dump_json(by_alias=True), media_type="application/json")


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
) -> Starlette:
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

    async def health_port_serves_health_only(request: Request, call_next):
        port = request.scope.get("server", (None, None))[1]
        if health_port is not None and port == health_port and request.url.path != "/healthz":
            return JSONResponse({"error": "the health port serves /healthz only"}, 404)
        return await call_next(request)

    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    async def bad_request(_: Request, e: InvalidRequest) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in e.errors
        ]
        return JSONResponse({"error": "; ".join(problems)}, status_code=422)

    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        """Unknown paths (404), methods (405) and unreadable bodies (400)."""
        return JSONResponse({"detail": e.detail}, status_code=e.status_code, headers=e.headers)

    async def healthz(_: Request) -> JSONResponse:
        if runner.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def submit(request: Request) -> JSONResponse:
        body = await _body(request)  # malformed JSON is refused before the token is checked
        authorized(request)
        errors: list[dict[str, Any]] = []
        build = _checked(_BUILD_REQUEST, body, ("body",), errors)
        if errors:
            raise InvalidRequest(errors)
        if runner.draining:
            raise ApiError(503, "this agent is draining: submit through the load balancer")
        try:
            row, created = store.submit(build.commit, runner.settings.max_queued)
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
        answer = job_view(row).model_dump(mode="json", by_alias=True)
        return JSONResponse(answer, status_code=202 if created else 200)

    async def status(request: Request) -> Response:
        authorized(request)
        return _job_response(job_view(existing(request.path_params["job_id"])))

    async def wait(request: Request) -> Response:
        authorized(request)
        query, errors = request.query_params, []
        state = _checked(_STATE, query.get("state", _ABSENT), ("query", "state"), errors)
        timeout = query.get("timeout", _ABSENT)
        if timeout is _ABSENT:
            timeout = 30
        else:
            timeout = _checked(_WAIT_TIMEOUT, timeout, ("query", "timeout"), errors)
        if errors:
            raise InvalidRequest(errors)
        job_id = request.path_params["job_id"]
        existing(job_id)

        def moved() -> bool:
            return store.get(job_id)["state"] != state.value

        async with runner.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(runner.changed.wait_for(moved), timeout)
        return _job_response(job_view(existing(job_id)))

    def route(path: str, endpoint, method: str) -> Route:
        answered = Route(path, endpoint, methods=[method])
        answered.methods = {method}  # Starlette adds HEAD to GET; each route answers one method
        return answered

    return Starlette(
        routes=[
            route("/healthz", healthz, "GET"),
            route("/builds", submit, "POST"),
            route("/builds/{job_id}", status, "GET"),
            route("/builds/{job_id}/wait", wait, "GET"),
        ],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=health_port_serves_health_only)],
        exception_handlers={
            ApiError: api_error,
            InvalidRequest: bad_request,
            HTTPException: http_error,
        },
    )


def guarded(app: ASGIApp) -> ASGIApp:
    """The app behind the body-size limit (outermost, before any parsing)."""
    return BodyLimit(app, MAX_BODY_BYTES)
