"""Stack config under hostile and clumsy input: a clear error naming the key, never a traceback.

Both ways config comes in are covered: `--set` on the offline plan and the stack files the
program reads (the same limits apply to both).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offline import plan as plan_cli
from offline.runner import run_offline
from offline.stack_files import PROJECT_ROOT, load_stack_config
from railyard.config import ConfigError

ALIAS_BOMB = "a: &a [x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20)
)


def plan(*args: str):
    started = time.monotonic()
    result = CliRunner().invoke(plan_cli.app, list(args))
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("[bold]x[/bold]", "not valid YAML"),
        ("key: [unclosed", "not valid YAML"),
        ("[" * 30_000, "nested more than 32 levels deep"),
        ("&a [x]", "anchors and aliases (&name, *name) are not supported"),
        ("9" * 5000, "an integer of 5,000 digits"),
        ("2001-13-45", "not a valid value"),
    ],
)
def test_set_values_that_are_not_config_are_refused_quickly(value, said):
    result, seconds = plan("dev", "--set", f"railyard:ecrRepositories={value}")
    assert result.exit_code == 2, result.output
    assert said in result.output and "--set railyard:ecrRepositories" in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert seconds < 10


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    return tmp_path


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (ALIAS_BOMB.encode(), "anchors and aliases (&name, *name) are not supported"),
        (b"config:\n  railyard:environment: dev\xff\n", "not UTF-8"),
        (b"config:\n  railyard:environment: \x00dev\n", "NUL"),
        (b"config: " + b"[" * 20_000, "nested more than 32 levels deep"),
        (b"config:\n  railyard:environment: dev\n" + b"#" * (2 * 1024 * 1024), "bytes"),
    ],
)
def test_stack_files_beyond_the_limits_are_refused_naming_the_file(project, content, said):
    (project / "Pulumi.bad.yaml").write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        load_stack_config("bad", root=project)
    (problem,) = raised.value.problems
    assert problem.key == "Pulumi.bad.yaml" and said in problem.message


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("- just\n- a list\n", "the file is a list, not a mapping"),
        ('config: "ab"\n', "config is a str, not a mapping"),
        ("config: [1, 2]\n", "config is a list, not a mapping"),
        ("config:\n  railyard:environment: 2001-13-45\n", "line 2: not a valid value"),
    ],
)
def test_a_stack_file_of_the_wrong_shape_is_named_not_a_traceback(project, content, said):
    (project / "Pulumi.odd.yaml").write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_stack_config("odd", root=project)
    (problem,) = raised.value.problems
    assert problem.key == "Pulumi.odd.yaml" and said in problem.message


def test_a_stack_file_that_is_a_fifo_is_refused_without_blocking(project):
    os.mkfifo(project / "Pulumi.pipe.yaml")
    with pytest.raises(ConfigError, match="FIFO"):
        load_stack_config("pipe", root=project)


def test_errors_echo_an_excerpt_never_the_whole_value():
    huge = "x" * 10_000  # within the YAML limits: the key's own check refuses it
    result, _ = plan("dev", "--set", f"railyard:releaseBackendWorkload={huge}")
    assert result.exit_code == 2
    assert "(10002 characters)" in result.output
    assert len(result.output) < 2_000


def test_errors_print_brackets_literally():
    result, _ = plan("dev", "--set", "railyard:releaseBackendWorkload='[bold]x[/bold]'")
    assert result.exit_code == 2, result.output
    assert "[bold]x[/bold]" in result.output  # not swallowed as console markup


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("aws:regoin", "aws:region"),
        ("alicloud:regin", "alicloud:region"),
        ("kubernetes:kubeconfg", "kubernetes:kubeconfig"),
    ],
)
def test_unknown_provider_keys_are_errors_with_the_closest_key(key, suggestion):
    with pytest.raises(ConfigError, match=f"{key}: is not a config key of the .* {suggestion}"):
        run_offline("dev", {key: "us-east-1"})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_stack_opens_its_api_endpoint_to_the_internet(stack):
    with pytest.raises(ConfigError, match=r"eksPublicAccessCidrs"):
        run_offline(stack, {"railyard:eksPublicAccessCidrs": ["0.0.0.0/0"]})


def test_thousands_of_bad_entries_print_a_bounded_report():
    result, _ = plan(
        "dev",
        "--set",
        "railyard:eksPublicAccessCidrs=" + "[" + ", ".join(["0.0.0.0/0"] * 3000) + "]",
    )
    assert result.exit_code == 2
    assert "and 2970 more problems not shown" in result.output
    assert len(result.output) < 10_000


def test_every_provider_namespace_yields_its_keys():
    from railyard.config import provider_keys

    for namespace in provider_keys.NAMESPACES:
        assert "region" in provider_keys.known_keys(namespace) or namespace == "kubernetes"
        assert len(provider_keys.known_keys(namespace)) >= 10, namespace
    assert "kubeconfig" in provider_keys.known_keys("kubernetes")
