"""Errors a pipeline step reports, each with the exit code the workflow templates branch on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The work itself failed: a build broke, a verification did not match, a target refused."""
    BAD_INPUT = 2
    """Arguments, files or environment are wrong; the message names the field and the fix."""
    UNREACHABLE = 3
    """No build agent (or other service) answered within the retry budget."""
    DEADLINE = 4
    """The total deadline passed before the work finished."""


class StepError(Exception):
    exit_code = ExitCode.FAILED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(StepError):
    exit_code = ExitCode.BAD_INPUT


class Unreachable(StepError):
    exit_code = ExitCode.UNREACHABLE


class DeadlineExceeded(StepError):
    exit_code = ExitCode.DEADLINE
