"""WorkflowEventBindings: a push to GitHub starts a release through argo-server's events API.

GitHub posts its push webhook to ``/api/v1/events/<namespace>/github``; argo-server checks the
HMAC signature (the ``github`` webhook client), then evaluates each binding's selector with
expr-lang (variables ``payload``, the JSON body, and ``metadata``, the ``x-`` headers in lower
case, each a list). A binding that matches submits its WorkflowTemplate with parameters that are
expressions too.

- **release train**: a push to the trigger branch of the infrastructure repository that adds or
  modifies the environment's manifest submits ``release-train`` with that manifest and the
  pushed commit;
- **unified release**: a push to the trigger branch of an application repository submits
  ``unified-release`` with the pushed commit, the repository and the Kanban card named in the
  head commit's message.

Every list a selector walks is guarded (``?? []``): a runtime error answers GitHub 500 for every
binding, where a false selector drops the event quietly. The Workflow is named after GitHub's
delivery id, so a redelivered webhook is refused as a duplicate instead of starting a second run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hera.workflows import models as m

from railyard.release_templates import train, unified
from railyard.release_templates.common import COMMIT_TIME, ReleaseSettings

DISCRIMINATOR = "github"
"""Last path segment of the events URL GitHub posts to: /api/v1/events/<namespace>/github."""
UNTRACKED_CARD = "untracked"
"""The card id a release reports under when its head commit names no card."""
DELIVERY = 'metadata["x-github-delivery"]'
# trimmed off each word of a commit message before it is matched against the card pattern
_PUNCTUATION = ".,;:!?()[]{}<>\"'#"


@dataclass(frozen=True)
class TriggerSettings:
    """What a push must look like to start a release."""

    branch: str
    """Branch whose pushes release, e.g. ``main``."""
    manifest: str
    """The environment's release-train manifest in the infrastructure repository."""
    app_repositories: tuple[str, ...]
    """Application repositories (names under ``git_base_url``) whose pushes start the unified
    release; empty: none does."""
    card_pattern: str
    """A Kanban card id, e.g. ``[A-Z]+-[0-9]+``: a word of the head commit's message that
    matches it entirely names the card."""


def events_path(namespace: str) -> str:
    """The path of argo-server's events API that GitHub posts to."""
    return f"/api/v1/events/{namespace}/{DISCRIMINATOR}"


def literal(value: str) -> str:
    """An expr-lang string literal (JSON's escaping is a subset expr-lang reads)."""
    return json.dumps(value)


def push_selector(repository_urls: list[str], branch: str, changed: str | None = None) -> str:
    """A GitHub push to ``branch`` of one of ``repository_urls`` that does not delete it, and,
    with ``changed``, whose commits add or modify that file."""
    urls = ", ".join(literal(u) for u in repository_urls)
    clauses = [
        '"push" in (metadata["x-github-event"] ?? [])',
        f"len({DELIVERY} ?? []) > 0",
        f"payload.ref == {literal('refs/heads/' + branch)}",
        f"payload.repository?.html_url in [{urls}]",
        "!(payload.deleted ?? false)",
    ]
    if changed is not None:
        clauses.append(
            "any(payload.commits ?? [], "
            f"{{any(concat(#.added ?? [], #.modified ?? []), {{# == {literal(changed)}}})}})"
        )
    return " && ".join(clauses)


def card_expression(pattern: str) -> str:
    """The first word of the head commit's message that is a card id, else ``untracked``.

    expr-lang has no regex search, only ``matches``: the message is split into words (spaces,
    tabs and newlines), each trimmed of punctuation and matched against the whole pattern.
    """
    message = 'payload.head_commit?.message ?? ""'
    words = f'split(replace(replace({message}, "\\n", " "), "\\t", " "), " ")'
    trimmed = f"map({words}, trim(#, {literal(_PUNCTUATION)}))"
    anchored = literal(f"^(?:{pattern})$")
    return f"first(filter({trimmed}, {{# matches {anchored}}})) ?? {literal(UNTRACKED_CARD)}"


def check_card_pattern(pattern: str) -> str | None:
    """Why ``pattern`` cannot name cards, or None. The pattern runs in Go's RE2 inside
    argo-server; Python's ``re`` reads the constructs both share."""
    try:
        compiled = re.compile(f"^(?:{pattern})$")
    except re.error as e:
        return f"not a regular expression ({e})"
    if compiled.match(""):
        return "matches an empty word: every commit would name a card"
    if re.search(r"\(\?[=!<]|\\[1-9]", pattern):
        return "uses lookaround or backreferences, which argo-server's RE2 does not have"
    return None


def _binding(
    s: ReleaseSettings, template: str, selector: str, parameters: dict[str, str]
) -> m.WorkflowEventBinding:
    return m.WorkflowEventBinding(
        api_version="argoproj.io/v1alpha1",
        kind="WorkflowEventBinding",
        metadata=m.ObjectMeta(
            name=f"{template}-on-push",
            namespace=s.namespace,
            labels={"app.kubernetes.io/part-of": "railyard", "railyard.io/env": s.env},
        ),
        spec=m.WorkflowEventBindingSpec(
            event=m.Event(selector=selector),
            submit=m.Submit(
                workflow_template_ref=m.WorkflowTemplateRef(name=template),
                # named after the delivery: GitHub's redelivery of it cannot start a second run
                metadata=m.ObjectMeta(name=f"{literal(template + '-')} + lower({DELIVERY}[0])"),
                arguments=m.Arguments(
                    parameters=[
                        m.Parameter(name=k, value_from=m.ValueFrom(event=v))
                        for k, v in parameters.items()
                    ]
                ),
            ),
        ),
    )


# the pushed head's own time (ISO 8601 with its offset): where the change's lead time starts
HEAD_TIME = 'payload.head_commit?.timestamp ?? ""'


def repository_url(s: ReleaseSettings, repository: str) -> str:
    """The ``html_url`` GitHub sends for a repository under ``git_base_url``."""
    return s.git_base_url + repository


def train_binding(s: ReleaseSettings, t: TriggerSettings) -> m.WorkflowEventBinding:
    return _binding(
        s,
        train.DEPLOYER,
        push_selector([repository_url(s, s.infra_repo)], t.branch, changed=t.manifest),
        {"manifest": literal(t.manifest), "revision": "payload.after", COMMIT_TIME: HEAD_TIME},
    )


def unified_binding(s: ReleaseSettings, t: TriggerSettings) -> m.WorkflowEventBinding:
    return _binding(
        s,
        unified.NAME,
        push_selector([repository_url(s, r) for r in t.app_repositories], t.branch),
        {
            "git-commit-sha": "payload.after",
            "repository": 'payload.repository?.full_name ?? ""',
            "feature": card_expression(t.card_pattern),
            COMMIT_TIME: HEAD_TIME,
        },
    )


def all_bindings(s: ReleaseSettings, t: TriggerSettings) -> list[dict]:
    """Every binding the stack installs, as the API server receives them."""
    bindings = [train_binding(s, t)]
    if t.app_repositories:
        bindings.append(unified_binding(s, t))
    return [b.model_dump(by_alias=True, exclude_none=True, mode="json") for b in bindings]
