"""The release WorkflowTemplates (docs/design.md: release templates with hera)."""

from __future__ import annotations

from railyard.release_templates import common, schedules, train, unified


def render_all(settings: common.ReleaseSettings) -> list[dict]:
    """Every WorkflowTemplate the stack installs, as the API server receives them."""
    templates = [unified.workflow_template(settings), *train.all_templates(settings)]
    return [common.render(t) for t in templates]


def render_schedules(settings: common.ReleaseSettings) -> list[dict]:
    """Every CronWorkflow the stack installs (delivery metrics, drift)."""
    return [common.render(c) for c in schedules.all_schedules(settings)]
