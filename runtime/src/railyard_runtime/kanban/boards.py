"""Boards behind one interface: move a card to a column.

``BoardUnavailable`` is worth retrying (5xx, 408, 429, rate limits, no complete answer within
the call's deadline); ``BoardRejected`` is not (the card or column does not exist, the card id
is not one this board takes, credentials are wrong, a redirect) and sends the event to the
DLQ.

Every call has one total deadline, from connecting to the answer's last byte: a board that
trickles its answer a byte at a time is cut off at the deadline, not after each slow read.
Redirects are never followed (the credentials go to the configured address only) and answer
bodies are read up to ``MAX_ANSWER`` bytes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import re
import socket
import ssl
import threading
from typing import Protocol
from urllib.parse import quote

import httpx

MAX_ANSWER = 1 << 20
"""Bytes of an answer read at most: boards answer a move with a few hundred."""
DEFAULT_DEADLINE = 10.0


class BoardUnavailable(Exception):
    pass


class BoardRejected(Exception):
    pass


class Board(Protocol):
    name: str

    def check_card(self, card: str) -> None:
        """Raise ``BoardRejected`` if ``card`` is not an id this board takes (before anything
        about it is stored or sent)."""
        ...

    def move(self, card: str, column: str, move_id: str) -> None:
        """Show ``card`` in ``column``. ``move_id`` is the same for every retry of one move
        (a consumer killed after moving, before recording it, repeats it with the same id)."""
        ...


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once:
    loading the CA bundle is most of what a new client costs."""
    return httpx.create_ssl_context()


def _client(deadline: float, headers: dict[str, str] | None = None, **kwargs) -> httpx.Client:
    return httpx.Client(
        verify=_tls(),
        # no single socket operation outlasts the call; the call as a whole is cut in _send
        timeout=httpx.Timeout(deadline),
        follow_redirects=False,
        # a fresh connection per call, so _send always holds the socket it has to cut
        limits=httpx.Limits(max_keepalive_connections=0),
        # the body is read raw and capped: no compressed answer to inflate
        headers={"Accept-Encoding": "identity", **(headers or {})},
        **kwargs,
    )


class _Expired(Exception):
    pass


class _Cutoff:
    """Cuts one call's connection at its deadline.

    httpx's timeouts bound each socket operation, not the call: a board sending one byte per
    second never trips them. A timer shuts the socket down at the deadline, which ends
    whatever read or write is waiting on it; a step that starts after the deadline stops
    at once. The socket comes from httpx's ``trace`` extension; it is duplicated at connect
    time so a shutdown reaches it after TLS has wrapped it too.
    """

    def __init__(self, seconds: float):
        self.expired = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict) -> None:
        if event == "connection.connect_tcp.complete":
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                with self._lock:
                    self._sockets.append(sock.dup())
        if self.expired.is_set():
            raise _Expired(event)

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Cutoff:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _send(
    http: httpx.Client, request: httpx.Request, what: str, deadline: float
) -> tuple[httpx.Response, bytes]:
    """The board's 2xx answer to ``request`` and up to ``MAX_ANSWER`` bytes of its body, all
    within ``deadline`` seconds; anything else raises (see the module's classification)."""
    with _Cutoff(deadline) as cutoff:
        request.extensions["trace"] = cutoff.trace
        try:
            answer = http.send(request, stream=True)
            try:
                body = bytearray()
                for chunk in answer.iter_raw():
                    body += chunk
                    if len(body) >= MAX_ANSWER:
                        break
            finally:
                answer.close()
            if cutoff.expired.is_set():  # a body cut short can look complete
                raise _Expired("reading the answer")
        except (httpx.RequestError, _Expired) as e:
            if cutoff.expired.is_set():
                raise BoardUnavailable(
                    f"{what}: no complete answer within the {deadline:g} s deadline"
                ) from e
            raise BoardUnavailable(f"{what}: {e}") from e
    status = answer.status_code
    if status in (408, 429) or status >= 500 or _rate_limited(answer):
        raise BoardUnavailable(f"{what}: HTTP {status}")
    if 300 <= status < 400:
        # not followed: the move did not happen at the configured address, and following it
        # would send the credentials wherever the board points
        raise BoardRejected(
            f"{what}: HTTP {status} redirect to {answer.headers.get('location', '?')!r}, not"
            " followed; configure the board's address that answers itself"
        )
    if not 200 <= status < 300:
        text = bytes(body[:200]).decode("utf-8", "replace")
        raise BoardRejected(f"{what}: HTTP {status} {text}")
    return answer, bytes(body)


def _rate_limited(answer: httpx.Response) -> bool:
    """GitHub answers a rate limit with 403 as often as 429: ``retry-after`` or no requests
    left (``x-ratelimit-remaining: 0``) say it is a wait, not a refusal."""
    return answer.status_code == 403 and (
        "retry-after" in answer.headers or answer.headers.get("x-ratelimit-remaining") == "0"
    )


class WebhookBoard:
    """``POST <url>/card/move {"card", "column"}``, HMAC-SHA256 signed.

    ``X-Railyard-Signature-256: sha256=<hex HMAC of the body>`` with the shared secret, so the
    receiver can refuse anything the bridge did not send; ``X-Railyard-Move-Id`` lets it
    ignore a repeated move. The card id only travels in the JSON body: any id will do.
    """

    name = "webhook"

    def __init__(self, url: str, secret: str, deadline: float = DEFAULT_DEADLINE):
        self.url = url.rstrip("/") + "/card/move"
        self.secret = secret.encode()
        self.deadline = deadline
        self.http = _client(deadline)

    def check_card(self, card: str) -> None:
        pass

    def move(self, card: str, column: str, move_id: str) -> None:
        body = json.dumps({"card": card, "column": column}, separators=(",", ":")).encode()
        signature = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        request = self.http.build_request(
            "POST",
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Railyard-Signature-256": f"sha256={signature}",
                "X-Railyard-Move-Id": move_id,
            },
        )
        _send(self.http, request, f"webhook move {card} -> {column}", self.deadline)


_UPDATE_STATUS = """
mutation($project: ID!, $item: ID!, $field: ID!, $option: String!) {
  updateProjectV2ItemFieldValue(input: {projectId: $project, itemId: $item, fieldId: $field,
                                        value: {singleSelectOptionId: $option}}) {
    projectV2Item { id }
  }
}
"""
GITHUB_ITEM_ID = re.compile(r"PVTI_[A-Za-z0-9_-]+")
"""A Projects (v2) item's node id."""
JIRA_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]+-[0-9]+")


class GitHubProjectsBoard:
    """GitHub Projects (v2): set the item's single-select status field (GraphQL).

    The card id is the project item's node id (``PVTI_…``); each column maps to an option id
    of the status field.
    """

    name = "github-projects"

    def __init__(
        self,
        token: str,
        project_id: str,
        status_field_id: str,
        options: dict[str, str],
        api_url: str = "https://api.github.com/graphql",
        deadline: float = DEFAULT_DEADLINE,
    ):
        self.url = api_url
        self.project_id = project_id
        self.field_id = status_field_id
        self.options = options
        self.deadline = deadline
        self.http = _client(deadline, headers={"Authorization": f"Bearer {token}"})

    def check_card(self, card: str) -> None:
        if not GITHUB_ITEM_ID.fullmatch(card):
            raise BoardRejected(
                f"github: feature {card!r} is not a project item's node id (PVTI_ followed by"
                " letters, digits, _ or -); give the workflow's feature parameter the item's id"
            )

    def move(self, card: str, column: str, move_id: str) -> None:  # setting a value: idempotent
        self.check_card(card)
        if column not in self.options:
            raise BoardRejected(f"no status option configured for column {column!r}")
        variables = {
            "project": self.project_id,
            "item": card,
            "field": self.field_id,
            "option": self.options[column],
        }
        request = self.http.build_request(
            "POST", self.url, json={"query": _UPDATE_STATUS, "variables": variables}
        )
        what = f"github move {card} -> {column}"
        _, body = _send(self.http, request, what, self.deadline)
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise BoardRejected(
                f"{what}: the answer is not a GraphQL JSON object; is the URL the GraphQL endpoint?"
            )
        errors = answer.get("errors")
        if errors:  # GraphQL reports failures with HTTP 200
            listed = errors if isinstance(errors, list) else [errors]
            errors = [e if isinstance(e, dict) else {"message": str(e)} for e in listed]
            message = f"{what}: {errors[0].get('message')}"
            if any(e.get("type") == "RATE_LIMITED" for e in errors):
                raise BoardUnavailable(message)
            raise BoardRejected(message)


class JiraBoard:
    """Jira: run the issue transition configured for the column (REST API v3).

    Use global transitions ("all statuses can transition to this one"): they are available
    from the target status too, so a repeated move is harmless. The card id goes into the
    URL's path, so only an issue key is taken.
    """

    name = "jira"

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        transitions: dict[str, str],
        deadline: float = DEFAULT_DEADLINE,
    ):
        self.base = base_url.rstrip("/")
        self.transitions = transitions
        self.deadline = deadline
        self.http = _client(deadline, auth=(email, api_token))

    def check_card(self, card: str) -> None:
        if not JIRA_ISSUE_KEY.fullmatch(card):
            raise BoardRejected(
                f"jira: feature {card!r} is not a Jira issue key (like PROJ-123:"
                f" ^{JIRA_ISSUE_KEY.pattern}$); give the workflow's feature parameter the key"
            )

    def move(self, card: str, column: str, move_id: str) -> None:
        self.check_card(card)
        if column not in self.transitions:
            raise BoardRejected(f"no Jira transition configured for column {column!r}")
        request = self.http.build_request(
            "POST",
            f"{self.base}/rest/api/3/issue/{quote(card, safe='')}/transitions",
            json={"transition": {"id": self.transitions[column]}},
        )
        _send(self.http, request, f"jira move {card} -> {column}", self.deadline)
