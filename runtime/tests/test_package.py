"""The runtime as a package: no Pulumi in it, installable as a wheel, every command answers."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

from railyard_runtime import __version__
from railyard_runtime.cli import app

RUNTIME = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((RUNTIME / "pyproject.toml").read_text())["project"]


def test_no_pulumi_inside_the_runtime():
    imports = re.compile(r"^\s*(from|import)\s+pulumi", re.MULTILINE)
    offenders = [p for p in (RUNTIME / "src").rglob("*.py") if imports.search(p.read_text())]
    assert offenders == []


def test_the_pins_satisfy_the_package_ranges():
    pins = {}
    for line in (RUNTIME / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    for spec in PROJECT["dependencies"]:
        requirement = Requirement(spec)
        assert requirement.name.lower() in pins, f"{requirement.name} is not pinned"
        assert requirement.specifier.contains(pins[requirement.name.lower()]), spec
    assert PROJECT["version"] == __version__


def test_the_wheel_carries_the_unit_file_the_kill_switch_and_both_commands(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(RUNTIME)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("railyard_runtime-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("agent/railyard-agent.service", "pwa/kill-switch-sw.js", "py.typed"):
        assert f"railyard_runtime/{data}" in names
    entry_points = zipfile.ZipFile(wheel).read(
        f"railyard_runtime-{__version__}.dist-info/entry_points.txt"
    )
    assert b"railyard-steps = railyard_runtime.cli:main" in entry_points
    assert b"railyard-agent = railyard_runtime.agent.server:main" in entry_points


@pytest.mark.parametrize("script", ["railyard-steps", "railyard-agent"])
def test_console_scripts_resolve(script):
    module, _, function = PROJECT["scripts"][script].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["pwa"],
        ["pwa", "publish"],
        ["pwa", "verify"],
        ["pwa", "rollback"],
        ["pwa", "kill-switch"],
        ["pwa", "prune"],
        ["android", "build"],
        ["images", "promote"],
        ["events", "publish"],
    ],
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_the_agent_refuses_to_start_without_settings():
    result = subprocess.run(
        [sys.executable, "-m", "railyard_runtime.agent.server"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "RAILYARD_AGENT_TOKEN_FILE or RAILYARD_AGENT_TOKEN_KMS_SECRET" in result.stderr
