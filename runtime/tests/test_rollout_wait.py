"""`railyard-steps deploy rollout`: waits on a Rollout through the Kubernetes API (a real HTTP
server on 127.0.0.1 stands in for it), as the backend lane does for a canary."""

import json
import threading

import pytest
from conftest import LocalServer, QuietHandler
from pwa_helpers import invoke

from railyard_runtime.environment import StepsEnv
from railyard_runtime.rollout import DEGRADED, HEALTHY, PROGRESSING, state


def rollout(generation=2, observed="2", phase="Healthy", message="", **status):
    return {
        "metadata": {"name": "api", "generation": generation},
        "status": {"observedGeneration": observed, "phase": phase, "message": message, **status},
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (rollout(), HEALTHY),
        (rollout(phase="Degraded", message="ProgressDeadlineExceeded"), DEGRADED),
        # the controller has not seen the new spec: its Healthy is the old revision's
        (rollout(generation=3, observed="2"), PROGRESSING),
        (rollout(phase="Paused"), PROGRESSING),
        (rollout(phase="Progressing"), PROGRESSING),
        (rollout(phase="Healthy", observed=None), PROGRESSING),
        ({"metadata": {"generation": 1}}, PROGRESSING),
    ],
)
def test_state_follows_generation_then_phase(obj, expected):
    assert state(obj)[0] == expected


class Api:
    """Answers GET of rollouts/api in namespace backend with the next object of a script."""

    def __init__(self, script):
        self.script, self.paths, self.auth = list(script), [], []
        lock = threading.Lock()
        api = self

        class Handler(QuietHandler):
            def do_GET(self):
                api.paths.append(self.path)
                api.auth.append(self.headers.get("authorization"))
                with lock:
                    status, body = api.script.pop(0) if len(api.script) > 1 else api.script[0]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.reply(status, data)

        self.server = LocalServer(Handler)


@pytest.fixture
def api(monkeypatch):
    made = []

    def start(*script):
        server = Api(script)
        made.append(server)
        monkeypatch.setenv(StepsEnv.KUBE_API_URL, server.server.url)
        return server

    yield start
    for server in made:
        server.server.stop()


def wait(*extra):
    return invoke(
        [
            "deploy",
            "rollout",
            "--name",
            "api",
            "--namespace",
            "backend",
            "--interval",
            "0.1",
            *extra,
        ]
    )


def test_healthy_only_after_the_controller_saw_the_new_spec(api):
    server = api(
        (200, rollout(generation=5, observed="4")),
        (200, rollout(generation=5, observed="5", phase="Progressing")),
        (200, rollout(generation=5, observed="5", phase="Healthy", message="canary promoted")),
    )
    result = wait("--timeout", "10")
    assert result.exit_code == 0, result.output
    assert "canary promoted" in result.output
    assert len(server.paths) == 3
    assert server.paths[0] == "/apis/argoproj.io/v1alpha1/namespaces/backend/rollouts/api"


def test_degraded_fails_at_once_with_the_controllers_message(api):
    api((200, rollout(phase="Degraded", message="RolloutAborted: analysis failed")))
    result = wait("--timeout", "60")
    assert result.exit_code == 1
    assert "Degraded: RolloutAborted: analysis failed" in result.output


def test_still_progressing_at_the_deadline_exits_4(api):
    api((200, rollout(phase="Paused")))
    result = wait("--timeout", "1")
    assert result.exit_code == 4 and "still Paused" in result.output


def test_a_missing_rollout_is_bad_input_and_a_refusal_names_the_right(api):
    api((404, {"kind": "Status", "code": 404}))
    result = wait("--timeout", "5")
    assert result.exit_code == 2 and "no rollout/api in namespace 'backend'" in result.output
    api((403, {"kind": "Status", "code": 403}))
    result = wait("--timeout", "5")
    assert result.exit_code == 1 and "needs get on rollouts" in result.output


def test_garbage_from_the_api_is_named_not_a_traceback(api):
    api((200, b"\xff\xfe not json"))
    result = wait("--timeout", "5")
    assert result.exit_code == 1 and "not JSON" in result.output
    assert "Traceback" not in result.output


def test_an_api_that_never_answers_is_unreachable_at_the_deadline(monkeypatch):
    server = LocalServer(QuietHandler)
    url = server.url
    server.stop()  # nothing listens there any more
    monkeypatch.setenv(StepsEnv.KUBE_API_URL, url)
    result = wait("--timeout", "1")
    assert result.exit_code == 3 and "did not answer" in result.output


def test_outside_a_pod_without_an_api_url_says_how(monkeypatch):
    monkeypatch.delenv(StepsEnv.KUBE_API_URL, raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = wait("--timeout", "5")
    assert result.exit_code == 2 and StepsEnv.KUBE_API_URL in result.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--name", "", "--namespace", "backend"], "--name"),
        (["--name", "../api", "--namespace", "backend"], "--name"),
        (["--name", "api", "--namespace", "Backend"], "--namespace"),
        (["--name", "api\n", "--namespace", "backend"], "--name"),
    ],
)
def test_names_that_cannot_be_a_rollout_are_refused_before_any_request(api, args, field):
    server = api((200, rollout()))
    result = invoke(["deploy", "rollout", *args, "--timeout", "5"])
    assert result.exit_code == 2 and field in result.output
    assert server.paths == []
