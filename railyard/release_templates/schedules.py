"""The release's scheduled checks: delivery metrics and drift, as CronWorkflows.

- ``delivery-metrics`` (hourly): the four keys per lane over the last 30 days, from the events
  the bridge keeps, put to CloudWatch for the release dashboard;
- ``drift-check`` (every 30 minutes): what runs against what the last successful release
  says should run — backend image digests, the bytes each CDN serves, the published APK; a
  difference is a pipeline event on the release's card and a metric.

Both run the steps image with the release service account; neither overlaps itself.
"""

from __future__ import annotations

from hera.workflows import models as m

from railyard.release_templates.common import (
    ReleaseSettings,
    alibaba_federation,
    env_mutex,
    metadata,
    param,
    pod_spec_fields,
    step_template,
)
from railyard_runtime import events

METRICS = "delivery-metrics"
DRIFT = events.DRIFT_CHECK
METRICS_SCHEDULE = "17 * * * *"
DRIFT_SCHEDULE = "*/30 * * * *"
METRICS_WINDOW = "30d"


def _cron(
    s: ReleaseSettings,
    name: str,
    schedule: str,
    args: list[str],
    deadline: int,
    synchronization: m.Synchronization | None = None,
    **template_fields,
) -> m.CronWorkflow:
    return m.CronWorkflow(
        api_version="argoproj.io/v1alpha1",
        kind="CronWorkflow",
        metadata=metadata(name, s),
        spec=m.CronWorkflowSpec(
            schedules=[schedule],
            timezone="UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=300,
            successful_jobs_history_limit=3,
            failed_jobs_history_limit=3,
            workflow_spec=m.WorkflowSpec(
                entrypoint="main",
                **pod_spec_fields(s),
                arguments=m.Arguments(parameters=[param("env", s.env)]),
                synchronization=synchronization,
                # waiting for the release's lock counts: up to a release's own four hours
                active_deadline_seconds=deadline + (5 * 3600 if synchronization else 60),
                pod_gc=m.PodGC(strategy="OnPodSuccess"),
                templates=[step_template(s, "main", args, deadline, **template_fields)],
            ),
        ),
    )


def delivery_metrics(s: ReleaseSettings) -> m.CronWorkflow:
    return _cron(
        s,
        METRICS,
        METRICS_SCHEDULE,
        ["report", "metrics", "--env", s.env, "--since", METRICS_WINDOW],
        deadline=600,
    )


def drift_check(s: ReleaseSettings) -> m.CronWorkflow:
    return _cron(
        s,
        DRIFT,
        DRIFT_SCHEDULE,
        ["report", "drift", "--env", s.env, "--workflow-uid", "{{workflow.uid}}"],
        deadline=600,
        # never while a release is changing what it compares: it would see the new commit
        # half-deployed and call that drift
        synchronization=env_mutex("release"),
        # the PWA's OSS bucket and the APK bucket are read as the release reads them
        **alibaba_federation(),
    )


def all_schedules(s: ReleaseSettings) -> list[m.CronWorkflow]:
    return [delivery_metrics(s), drift_check(s)]
