"""Boards behind one interface: move a card to a column.

``BoardUnavailable`` is worth retrying (5xx, timeouts, rate limits); ``BoardRejected`` is not
(the card or column does not exist, credentials are wrong) and sends the event to the DLQ.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Protocol

import httpx


class BoardUnavailable(Exception):
    pass


class BoardRejected(Exception):
    pass


class Board(Protocol):
    name: str

    def move(self, card: str, column: str, move_id: str) -> None:
        """Show ``card`` in ``column``. ``move_id`` is the same for every retry of one move
        (a consumer killed after moving, before recording it, repeats it with the same id)."""
        ...


def _send(http: httpx.Client, request: httpx.Request, what: str) -> httpx.Response:
    try:
        answer = http.send(request)
    except httpx.TransportError as e:
        raise BoardUnavailable(f"{what}: {e}") from e
    if answer.status_code in (408, 429) or answer.status_code >= 500 or _rate_limited(answer):
        raise BoardUnavailable(f"{what}: HTTP {answer.status_code}")
    if answer.status_code >= 400:
        raise BoardRejected(f"{what}: HTTP {answer.status_code} {answer.text[:200]}")
    return answer


def _rate_limited(answer: httpx.Response) -> bool:
    """GitHub answers a rate limit with 403 as often as 429: ``retry-after`` or no requests
    left (``x-ratelimit-remaining: 0``) say it is a wait, not a refusal."""
    return answer.status_code == 403 and (
        "retry-after" in answer.headers or answer.headers.get("x-ratelimit-remaining") == "0"
    )


class WebhookBoard:
    """``POST <url>/card/move {"card", "column"}`` (the seed's call), HMAC-SHA256 signed.

    ``X-Railyard-Signature-256: sha256=<hex HMAC of the body>`` with the shared secret, so the
    receiver can refuse anything the bridge did not send; ``X-Railyard-Move-Id`` lets it
    ignore a repeated move.
    """

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float = 10):
        self.url = url.rstrip("/") + "/card/move"
        self.secret = secret.encode()
        self.http = httpx.Client(timeout=timeout)

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
        _send(self.http, request, f"webhook move {card} -> {column}")


_UPDATE_STATUS = """
mutation($project: ID!, $item: ID!, $field: ID!, $option: String!) {
  updateProjectV2ItemFieldValue(input: {projectId: $project, itemId: $item, fieldId: $field,
                                        value: {singleSelectOptionId: $option}}) {
    projectV2Item { id }
  }
}
"""


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
        timeout: float = 10,
    ):
        self.url = api_url
        self.project_id = project_id
        self.field_id = status_field_id
        self.options = options
        self.http = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def move(self, card: str, column: str, move_id: str) -> None:  # setting a value: idempotent
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
        answer = _send(self.http, request, f"github move {card} -> {column}")
        errors = answer.json().get("errors")
        if errors:  # GraphQL reports failures with HTTP 200
            message = f"github move {card} -> {column}: {errors[0].get('message')}"
            if any(e.get("type") == "RATE_LIMITED" for e in errors):
                raise BoardUnavailable(message)
            raise BoardRejected(message)


class JiraBoard:
    """Jira: run the issue transition configured for the column (REST API v3).

    Use global transitions ("all statuses can transition to this one"): they are available
    from the target status too, so a repeated move is harmless.
    """

    name = "jira"

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        transitions: dict[str, str],
        timeout: float = 10,
    ):
        self.base = base_url.rstrip("/")
        self.transitions = transitions
        self.http = httpx.Client(timeout=timeout, auth=(email, api_token))

    def move(self, card: str, column: str, move_id: str) -> None:
        if column not in self.transitions:
            raise BoardRejected(f"no Jira transition configured for column {column!r}")
        request = self.http.build_request(
            "POST",
            f"{self.base}/rest/api/3/issue/{card}/transitions",
            json={"transition": {"id": self.transitions[column]}},
        )
        _send(self.http, request, f"jira move {card} -> {column}")
