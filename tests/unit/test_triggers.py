"""The trigger expressions as text, and the sample pushes ``make trigger-check`` judges."""

import json
import re
from pathlib import Path

import pytest
import yaml

from offline.runner import release_settings
from railyard.release_templates import render_all
from railyard.release_templates.triggers import (
    UNTRACKED_CARD,
    TriggerSettings,
    all_bindings,
    card_expression,
    check_card_pattern,
    literal,
    push_selector,
)

EVENTS = Path(__file__).resolve().parents[1] / "github_events"
TRIGGERS = TriggerSettings(
    branch="main",
    manifest="releases/dev.yaml",
    app_repositories=("app",),
    card_pattern="[A-Z]+-[0-9]+",
)


def test_literals_escape_what_would_end_the_string():
    assert literal('a"b\\c\n') == '"a\\"b\\\\c\\n"'


def test_the_selector_guards_every_list_it_walks():
    selector = push_selector(["https://github.com/acme/infra"], "main", changed="releases/dev.yaml")
    # every list argo-server may hand over as null is defaulted before it is walked
    for walked in re.findall(r"any\(([^,]+),", selector):
        assert walked.strip().endswith("?? []") or walked.startswith("concat"), walked
    assert "#.added ?? []" in selector and "#.modified ?? []" in selector
    assert "!(payload.deleted ?? false)" in selector
    assert 'payload.ref == "refs/heads/main"' in selector


def test_a_selector_without_a_file_ignores_what_changed():
    assert "commits" not in push_selector(["https://github.com/acme/app"], "main")


def test_the_card_is_matched_whole_word_by_word():
    expression = card_expression("[A-Z]+-[0-9]+")
    assert '"^(?:[A-Z]+-[0-9]+)$"' in expression
    assert expression.endswith(f"?? {literal(UNTRACKED_CARD)}")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("[A-Z]+-[0-9]+", None),
        ("#[0-9]+", None),
        ("[A-Z]*", "matches an empty word"),
        ("(?<=x)y", "lookaround"),
        ("(a)\\1", "backreferences"),
        ("(", "not a regular expression"),
    ],
)
def test_card_patterns_that_cannot_name_a_card_are_refused(pattern, why):
    found = check_card_pattern(pattern)
    assert found is None if why is None else why in found


def test_bindings_submit_only_parameters_their_templates_declare():
    settings = release_settings("dev")
    declared = {
        t["metadata"]["name"]: {
            p["name"] for p in t["spec"].get("arguments", {}).get("parameters", [])
        }
        for t in render_all(settings)
    }
    bindings = all_bindings(settings, TRIGGERS)
    assert [b["metadata"]["name"] for b in bindings] == [
        "release-train-on-push",
        "unified-release-on-push",
    ]
    for b in bindings:
        submit = b["spec"]["submit"]
        params = {p["name"] for p in submit["arguments"]["parameters"]}
        assert params <= declared[submit["workflowTemplateRef"]["name"]]
    no_apps = TriggerSettings("main", "releases/dev.yaml", (), "[A-Z]+-[0-9]+")
    assert [b["metadata"]["name"] for b in all_bindings(settings, no_apps)] == [
        "release-train-on-push"
    ]


def test_every_sample_push_is_judged_and_names_real_bindings_and_parameters():
    expected = yaml.safe_load((EVENTS / "expected.yaml").read_text())
    listed = {c["payload"] for c in expected["cases"]}
    assert listed == {p.name for p in EVENTS.glob("*.json")}
    for p in EVENTS.glob("*.json"):
        json.loads(p.read_text())
    settings = release_settings("dev")
    params = {
        b["metadata"]["name"]: {p["name"] for p in b["spec"]["submit"]["arguments"]["parameters"]}
        for b in all_bindings(settings, TRIGGERS)
    }
    for case in expected["cases"]:
        for stack in ("dev", "prod"):
            for binding, values in case[stack].items():
                assert set(values) == params[binding], (case["payload"], stack, binding)
