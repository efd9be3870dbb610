"""``pwa canary``, the post-deploy gate: waits for the Synthetics canary's first run after the
publish. A real HTTP server on 127.0.0.1 stands in for the Synthetics API (GetCanaryRuns is
REST-JSON ``POST /canary/{name}/runs``) and serves runs that change from poll to poll."""

from __future__ import annotations

import functools
import json
import re
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from conftest import REGION, LocalServer, QuietHandler
from pwa_helpers import invoke

from railyard_runtime import clouds
from railyard_runtime.environment import StepsEnv
from railyard_runtime.errors import BadInput, DeadlineExceeded, StepError, Unreachable
from railyard_runtime.pwa import canary

CANARY = "pwa-canary"
AFTER = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ROUTE = re.compile(r"^/canary/([^/]+)/runs$")


def run(run_id: str, state: str, minutes: float, reason: str = "", took: float | None = 1):
    """A run as GetCanaryRuns lists it, started ``minutes`` after AFTER (negative: before)."""
    started = AFTER + timedelta(minutes=minutes)
    timeline = {"Started": started.timestamp()}
    if state != "RUNNING" and took is not None:
        timeline["Completed"] = (started + timedelta(minutes=took)).timestamp()
    return {
        "Id": run_id,
        "Name": CANARY,
        "Status": {"State": state, "StateReason": reason, "StateReasonCode": ""},
        "Timeline": timeline,
        "ArtifactS3Location": f"cw-syn-results/canary/{run_id}",
    }


class SyntheticsApi:
    """GetCanaryRuns of one canary. Poll n (a request without NextToken starts one) lists
    ``script[n]`` (the last one repeats), ``page_size`` runs a page; ``status`` other than 200
    answers every request with that error."""

    def __init__(self, *script: list[dict], page_size: int = 100, status: int = 200):
        self.script, self.page_size, self.status = list(script) or [[]], page_size, status
        self.requests: list[tuple[str, dict]] = []
        self.polls = 0
        lock = threading.Lock()
        api = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                query = json.loads(body or b"{}")
                route = ROUTE.fullmatch(self.path)
                with lock:
                    api.requests.append((self.path, query))
                    if route and route[1] == CANARY and "NextToken" not in query:
                        api.polls += 1
                    runs = api.script[min(api.polls, len(api.script)) - 1]
                if api.status != 200:
                    return self.error(api.status, "InternalServerException", "try again")
                if not route or route[1] != CANARY:
                    return self.error(404, "ResourceNotFoundException", "Canary not found")
                offset = int(query.get("NextToken", "page-0").split("-")[1])
                page = runs[offset : offset + min(api.page_size, query["MaxResults"])]
                answer: dict = {"CanaryRuns": page}
                if offset + len(page) < len(runs):
                    answer["NextToken"] = f"page-{offset + len(page)}"
                self.reply(200, json.dumps(answer).encode())

            def error(self, status: int, kind: str, message: str) -> None:
                data = json.dumps({"Message": message}).encode()
                self.send_response(status)
                self.send_header("x-amzn-ErrorType", kind)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = LocalServer(Handler)
        self.url = self.server.url

    def tokens(self) -> list[str | None]:
        return [query.get("NextToken") for _, query in self.requests]


@pytest.fixture
def synthetics(monkeypatch):
    """Start stand-ins with ``synthetics(*script, **options)``; the steps' AWS clients of
    Synthetics reach the last one started. All are stopped after the test."""
    started: list[SyntheticsApi] = []
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", StepsEnv.PWA_CANARY):
        monkeypatch.delenv(key, raising=False)

    def start(*script: list[dict], **options) -> SyntheticsApi:
        api = SyntheticsApi(*script, **options)
        started.append(api)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SYNTHETICS", api.url)
        return api

    yield start
    for api in started:
        api.server.stop()


def client_of(url: str):
    """A Synthetics client that tries each request once: the tests count the requests."""
    return boto3.client(
        "synthetics",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


class Clock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def wait(api: SyntheticsApi, clock: Clock, deadline: float = 60, poll: float = 15):
    return canary.wait_for_run(
        client_of(api.url), CANARY, AFTER, deadline, poll, clock=clock, sleep=clock.sleep
    )


def test_the_first_passed_run_after_the_publish_passes_and_older_runs_do_not_count(synthetics):
    api = synthetics(
        [
            run("r-later", "FAILED", 10, "later run, not the first"),
            run("r-old-failed", "FAILED", -3, "threshold breached before the publish"),
            run("r-first", "PASSED", 2, "", took=1.5),
            run("r-old-passed", "PASSED", -8),
            run("r-at-publish", "FAILED", 0, "started exactly at --after"),
        ]
    )
    clock = Clock()
    found = wait(api, clock)
    assert found == canary.CanaryRun(
        id="r-first",
        state="PASSED",
        reason="",
        started=AFTER + timedelta(minutes=2),
        completed=AFTER + timedelta(minutes=3.5),
    )
    assert found.started.tzinfo is not None
    assert clock.sleeps == []
    assert api.requests == [(f"/canary/{CANARY}/runs", {"MaxResults": 100})]


def test_a_failed_run_after_the_publish_fails_with_its_reason(synthetics):
    api = synthetics(
        [run("r-ok-before", "PASSED", -5), run("r-bad", "FAILED", 1, "LCP 4100 ms > 2500 ms")]
    )
    with pytest.raises(StepError) as failed:
        wait(api, Clock())
    assert type(failed.value) is StepError and failed.value.exit_code == 1
    assert failed.value.message == (
        "the canary's run r-bad after the publish failed: LCP 4100 ms > 2500 ms"
    )


def test_a_run_that_appears_running_then_passes_on_a_later_poll(synthetics):
    old = run("r-old", "FAILED", -4, "old")
    api = synthetics(
        [old],
        [old, run("r-new", "RUNNING", 1)],
        [old, run("r-new", "RUNNING", 1)],
        [run("r-new", "PASSED", 1, took=2), old],
    )
    clock = Clock()
    found = wait(api, clock, deadline=300, poll=15)
    assert (found.id, found.state, found.completed) == (
        "r-new",
        "PASSED",
        AFTER + timedelta(minutes=3),
    )
    assert api.polls == 4 and clock.sleeps == [15, 15, 15]


def test_a_run_still_running_does_not_hold_back_a_later_finished_one(synthetics):
    api = synthetics([run("r-slow", "RUNNING", 1), run("r-next", "PASSED", 6)])
    assert wait(api, Clock()).id == "r-next"


def test_pagination_follows_next_token_to_the_second_page(synthetics):
    api = synthetics(
        [run("r-old-1", "PASSED", -10), run("r-old-2", "FAILED", -5), run("r-new", "PASSED", 1)],
        page_size=2,
    )
    assert wait(api, Clock()).id == "r-new"
    assert api.tokens() == [None, "page-2"]
    assert all(query["MaxResults"] == 100 for _, query in api.requests)


def test_the_earliest_started_run_decides_across_pages(synthetics):
    api = synthetics(
        [run("r-late", "PASSED", 9), run("r-old", "PASSED", -1), run("r-early", "FAILED", 4, "SW")],
        page_size=2,
    )
    with pytest.raises(StepError, match=r"run r-early after the publish failed: SW$"):
        wait(api, Clock())
    assert api.tokens() == [None, "page-2"]


def test_a_poll_reads_at_most_ten_pages(synthetics):
    older = [run(f"r-old-{i}", "PASSED", -i - 1) for i in range(12)]
    api = synthetics([*older, run("r-13th", "PASSED", 1)], page_size=1)
    with pytest.raises(DeadlineExceeded):  # r-13th is on page 13
        wait(api, Clock(), deadline=15, poll=15)
    assert api.polls == 2 and len(api.requests) == 2 * canary.MAX_PAGES
    assert api.tokens()[: canary.MAX_PAGES] == [None] + [f"page-{i}" for i in range(1, 10)]


def test_no_finished_run_by_the_deadline_is_deadline_exceeded(synthetics):
    api = synthetics([run("r-old", "PASSED", -1), run("r-now", "RUNNING", 3)])
    clock = Clock()
    with pytest.raises(DeadlineExceeded) as late:
        wait(api, clock, deadline=40, poll=15)
    assert late.value.exit_code == 4
    assert late.value.message == (
        f"no canary run of {CANARY} finished after 2026-11-01T12:00:00+00:00 within 40 s; "
        f"is the canary running? aws synthetics get-canary --name {CANARY}"
    )
    assert clock.sleeps == [15, 15, 10] and api.polls == 4


def test_an_error_answer_is_retried_within_the_deadline(synthetics):
    api = synthetics([run("r-new", "PASSED", 1)], status=500)
    clock = Clock()

    def recover(seconds: float) -> None:
        api.status = 200
        Clock.sleep(clock, seconds)

    clock.sleep = recover
    assert wait(api, clock).id == "r-new"
    assert len(api.requests) == 2 and clock.sleeps == [15]


def test_errors_until_the_deadline_are_unreachable_with_the_last_error(synthetics):
    api = synthetics([], status=500)
    with pytest.raises(Unreachable, match=r"InternalServerException.*try again"):
        wait(api, Clock(), deadline=30, poll=15)
    assert len(api.requests) == 3


def test_an_endpoint_nobody_listens_on_is_unreachable(synthetics):
    api = synthetics([])
    api.server.stop()
    with pytest.raises(Unreachable, match="EndpointConnectionError"):
        wait(api, Clock(), deadline=15)


def test_an_unknown_canary_is_bad_input_at_once(synthetics):
    api = synthetics([])
    with pytest.raises(BadInput, match="--name pwa-other: no such canary") as bad:
        clock = Clock()
        canary.wait_for_run(
            client_of(api.url), "pwa-other", AFTER, 60, clock=clock, sleep=clock.sleep
        )
    assert bad.value.exit_code == 2 and len(api.requests) == 1


def test_a_zone_less_time_or_an_impossible_name_is_refused_before_any_request(synthetics):
    api = synthetics([])
    with pytest.raises(ValueError, match="timezone-aware"):
        canary.wait_for_run(client_of(api.url), CANARY, datetime(2026, 11, 1), 60)
    with pytest.raises(BadInput, match="not a canary name"):
        canary.wait_for_run(client_of(api.url), "PWA/../x", AFTER, 60)
    assert api.requests == []


# the CLI, through the steps' own AWS client (AWS_ENDPOINT_URL_SYNTHETICS points it here)


def cli(*args: str):
    result = invoke(["--json", "pwa", "canary", *args])
    return result, json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def fake_time(monkeypatch) -> Clock:
    """The command's waits on a Clock: a 60 s deadline passes at once (and a test whose
    run is never decided fails fast instead of hanging)."""
    clock = Clock()
    real = canary.wait_for_run
    patched = functools.partial(real, clock=clock, sleep=clock.sleep)
    monkeypatch.setattr(canary, "wait_for_run", patched)
    return clock


def test_cli_prints_the_passed_run_and_reads_the_canary_from_the_environment(
    synthetics, monkeypatch, fake_time
):
    synthetics([run("r-old", "FAILED", -2, "old"), run("r-first", "PASSED", 1, took=0.5)])
    monkeypatch.setenv(StepsEnv.PWA_CANARY, CANARY)
    result, answer = cli("--after", "2026-11-01T13:00:00+01:00")
    assert result.exit_code == 0, result.output
    assert answer == {
        "canary": CANARY,
        "runId": "r-first",
        "state": "PASSED",
        "started": "2026-11-01T12:01:00+00:00",
        "completed": "2026-11-01T12:01:30+00:00",
    }
    human = invoke(["pwa", "canary", "--after", "2026-11-01T12:00:00Z"])
    assert human.exit_code == 0, human.output
    assert "canary pwa-canary: run r-first PASSED (started 2026-11-01T12:01:00+00:00" in (
        human.stdout
    )
    assert fake_time.sleeps == []


def test_cli_a_failed_run_exits_1_with_its_reason(synthetics, fake_time):
    synthetics([run("r-bad", "FAILED", 1, "Service worker not registered")])
    result, answer = cli("--name", CANARY, "--after", "2026-11-01T12:00:00Z")
    assert result.exit_code == 1
    assert answer == {
        "error": "the canary's run r-bad after the publish failed: Service worker not registered",
        "exitCode": 1,
    }


def test_cli_no_run_by_the_deadline_exits_4(synthetics, fake_time):
    api = synthetics([run("r-running", "RUNNING", 1)])
    args = ["--name", CANARY, "--after", "2026-11-01T12:00:00Z", "--deadline", "60"]
    result, answer = cli(*args, "--poll", "1")
    assert result.exit_code == 4 and answer["exitCode"] == 4
    assert (
        "no canary run of pwa-canary finished after 2026-11-01T12:00:00+00:00 within 60 s"
        in (answer["error"])
    )
    assert fake_time.sleeps == [1] * 60 and api.polls == 61


def test_cli_unknown_canary_exits_2(synthetics, fake_time):
    api = synthetics([])
    result, answer = cli("--name", "pwa-elsewhere", "--after", "2026-11-01T12:00:00Z")
    assert result.exit_code == 2
    assert "--name pwa-elsewhere: no such canary" in answer["error"]
    assert StepsEnv.PWA_CANARY in answer["error"] and len(api.requests) == 1


def test_cli_an_api_failing_until_the_deadline_exits_3(synthetics, fake_time, monkeypatch):
    api = synthetics([], status=500)
    # the steps' client retries each request 8 times with backoff: the test counts polls
    monkeypatch.setattr(clouds, "aws_client", lambda service, region=None: client_of(api.url))
    args = ["--name", CANARY, "--after", "2026-11-01T12:00:00Z", "--deadline", "60"]
    result, answer = cli(*args, "--poll", "20")
    assert result.exit_code == 3
    assert answer["error"].startswith("the Synthetics API did not answer for pwa-canary: ")
    assert "InternalServerException" in answer["error"]
    assert len(api.requests) == 4 and fake_time.sleeps == [20, 20, 20]


@pytest.mark.parametrize(
    ("after", "says"),
    [
        ("2026-11-01T12:00:00", "--after '2026-11-01T12:00:00': needs a time zone, e.g. "),
        ("yesterday", "--after 'yesterday': not a time; use ISO 8601, e.g. "),
    ],
)
def test_cli_a_zone_less_or_unparsable_after_exits_2(synthetics, after, says):
    api = synthetics([run("r", "PASSED", 1)])
    result, answer = cli("--name", CANARY, "--after", after)
    assert result.exit_code == 2
    assert answer["error"].startswith(says) and "2026-11-01T12:00:00Z" in answer["error"]
    assert api.requests == []


def test_cli_an_empty_name_exits_2(synthetics):
    api = synthetics([run("r", "PASSED", 1)])
    result, answer = cli("--name", "", "--after", "2026-11-01T12:00:00Z")
    assert result.exit_code == 2
    assert answer["error"] == (
        "--name: no canary; the stack sets RAILYARD_PWA_CANARY in the release ConfigMap"
    )
    assert api.requests == []
