"""Static-analysis gate: the commit's GitHub code-scanning results (CodeQL or any SARIF tool).

The commit must have been analysed (an analysis with its SHA exists), and the ref it was
analysed on must have no open alert at a blocked severity. GitHub's REST API, version pinned.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from railyard_runtime.errors import BadInput, StepError, Unreachable

API_VERSION = "2022-11-28"
SEVERITIES = ("critical", "high", "medium", "low", "warning", "note", "error")


@dataclass(frozen=True)
class CodeVerdict:
    repository: str
    commit: str
    ref: str
    tools: list[str]
    open_alerts: dict[str, int]

    @property
    def blocking(self) -> int:
        return sum(self.open_alerts.values())


def github_headers(token: str) -> dict[str, str]:
    """What every call of GitHub's REST API sends: the token and the pinned API version."""
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }


def parse_block(value: str) -> tuple[str, ...]:
    levels = tuple(s.strip().lower() for s in value.split(",") if s.strip())
    if not levels or any(s not in SEVERITIES for s in levels):
        raise BadInput(f"--block {value!r}: use severities from {', '.join(SEVERITIES)}")
    return levels


def _get(http: httpx.Client, path: str, params: dict[str, str | int]) -> list[dict]:
    try:
        answer = http.get(path, params=params)
    except httpx.TransportError as e:
        raise Unreachable(f"GitHub API: {e}") from e
    if answer.status_code in (401, 403):
        raise BadInput(
            f"GitHub API answered {answer.status_code} for {path}: the token needs the "
            "security_events (or repo) scope on this repository"
        )
    if answer.status_code == 404:
        raise StepError(f"{path}: not found (no code scanning on this repository?)")
    answer.raise_for_status()
    return answer.json()


def check(
    api_url: str,
    token: str,
    repository: str,
    commit: str,
    block: tuple[str, ...],
    timeout: float = 30,
) -> CodeVerdict:
    if repository.count("/") != 1:
        raise BadInput(f"--repository {repository!r}: expected <owner>/<name>")
    with httpx.Client(base_url=api_url, headers=github_headers(token), timeout=timeout) as http:
        base = f"/repos/{repository}/code-scanning"
        analyses = _get(http, f"{base}/analyses", {"sha": commit, "per_page": 100})
        if not analyses:
            raise StepError(
                f"{repository}@{commit[:12]}: no code-scanning analysis for this commit; the "
                "release waits for the repository's CI to upload one"
            )
        ref = analyses[0]["ref"]
        open_alerts = {}
        for severity in block:
            alerts = _get(
                http,
                f"{base}/alerts",
                {"ref": ref, "state": "open", "severity": severity, "per_page": 100},
            )
            if alerts:
                open_alerts[severity] = len(alerts)
    tools = sorted({a.get("tool", {}).get("name", "?") for a in analyses})
    return CodeVerdict(repository, commit, ref, tools, open_alerts)
