"""The board config: what ``railyard-bridge`` reads from ``BridgeEnv.BOARD_CONFIG``.

The stack builds these models and writes the file with ``to_json``; the bridge reads it with
``from_document``, camelCase keys only. A key one side does not know cannot be written.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL with a host and a valid port; ValueError says why."""
    import httpx  # here, not at the top: a bridge refused before any URL is read starts sooner

    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as e:
        raise ValueError(f"not a URL ({e})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http(s) URL such as https://kanban.example.com")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"port {url.port} is not 1-65535")
    return value


_Url = Annotated[str, AfterValidator(http_url)]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class BoardConfig(BaseModel):
    # field names in Python (the stack), camelCase in the file: from_document takes only those
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, extra="forbid", frozen=True
    )

    @classmethod
    def from_document(cls, document: Any) -> BoardConfig:
        """The config a file's JSON object holds; ``ValidationError`` names what is wrong."""
        return cls.model_validate(document, by_alias=True, by_name=False)

    def to_json(self) -> str:
        """The file's text, as the bridge reads it."""
        return json.dumps(self.model_dump(by_alias=True, mode="json"), sort_keys=True)

    @property
    def endpoint(self) -> str:
        return self.url

    @property
    def port(self) -> int:
        """The TCP port the bridge calls the board on (its egress policy opens only this)."""
        import httpx

        url = httpx.URL(self.endpoint)
        return url.port or (443 if url.scheme == "https" else 80)


class WebhookConfig(BoardConfig):
    url: _Url


class GitHubProjectsConfig(BoardConfig):
    url: _Url = "https://api.github.com/graphql"
    project_id: _Text
    status_field_id: _Text
    options: dict[_Text, _Text] = Field(min_length=1)


class JiraConfig(BoardConfig):
    base_url: _Url
    email: _Text
    transitions: dict[_Text, _Text] = Field(min_length=1)

    @property
    def endpoint(self) -> str:
        return self.base_url


BOARD_CONFIGS: dict[str, type[BoardConfig]] = {
    "webhook": WebhookConfig,
    "github-projects": GitHubProjectsConfig,
    "jira": JiraConfig,
}
"""The config model of each kind of board (``BridgeEnv.BOARD``)."""
