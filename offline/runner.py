"""Run the real stack program offline, under Pulumi mocks, and record what it registers.

The config comes from the stack files (``offline.stack_files``), the mocks make up what the
clouds would compute (``offline.mocks``) and a recording monitor keeps every registration
(``offline.recorder``). The offline plan and the tests both use this module, so what the
tests check is what the plan shows.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import gc
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from pulumi import Output, RunError
from pulumi.runtime import mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func

from offline.mocks import FAKE_ACCOUNT, OFFLINE_DIGEST, FabricatingMocks
from offline.recorder import OfflinePlan, RecordingMonitor
from offline.stack_files import PROJECT_ROOT, load_stack_config
from railyard.config import PROJECT, ConfigError

SECRET_MASK = "[secret]"
# Generations 0, 1 and 2 of Python's collector, set less eager than its (700, 10, 10): see
# collect_less_often.
GC_THRESHOLDS = (100_000, 50, 100)
UNKNOWN_MASK = "[known after pulumi up]"


def _mask_stand_ins(value: Any) -> Any:
    """An export holding the stand-in digest is shown as a preview would show it."""
    return UNKNOWN_MASK if OFFLINE_DIGEST in json.dumps(value, default=str) else value


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted work at once, in order: deterministic registration order, and what
    multi-language components (pulumi_eks) need under mocks: their registrations run
    through the default executor and must finish before the program goes on."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # handed to the awaiting coroutine
            future.set_exception(e)
        return future


def run_offline(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    program: Callable[[], None] | None = None,
    root: Path = PROJECT_ROOT,
) -> OfflinePlan:
    """Run the stack program (``stacks.program.main`` by default) for ``stack`` under mocks.

    Raises ``ConfigError`` on bad config, before any resource is registered.
    """
    config, secret_keys = load_stack_config(stack, overrides, root)
    collect_less_often()
    if program is None:
        from stacks.program import main as program
    # A fresh context per run: the SDK keeps its settings, config and root stack in ContextVars.
    with _without_source_positions():
        return contextvars.Context().run(_run, stack, config, secret_keys, program)


def collect_less_often() -> None:
    """A run loads about 1,400 SDK modules whose classes and type objects live as long as the
    process.

    - At Python's default thresholds the cyclic collector walks them again every few hundred
      allocations, a fifth of a cold plan's time: collections still happen, less often.
    - At exit, the interpreter's last collections would walk them all once more, over a second
      on 2 cores (a third of `make plan`), to free what the exit frees anyway: an exit handler
      freezes them first (``gc.freeze``).
    """
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)
    atexit.unregister(gc.freeze)  # registered once, however often a process calls this
    atexit.register(gc.freeze)


@contextlib.contextmanager
def _without_source_positions():
    """The SDK walks the Python stack at every registration to send the engine where in the
    code a resource was declared; the mocks discard it, and it is a third of a warm run."""
    if not hasattr(sdk_resource, "_get_stack_trace"):  # another SDK version: leave it be
        yield
        return
    with mock.patch.object(sdk_resource, "_get_stack_trace", source_pb2.StackTrace):
        yield


def _run(stack: str, config: dict[str, str], secret_keys: list[str], program) -> OfflinePlan:
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor())
    asyncio.set_event_loop(loop)
    try:
        set_all_config(config, secret_keys)
        fabricator = FabricatingMocks(
            region=config.get("aws:region", "us-east-1"),
            alibaba_region=config.get("alicloud:region", "cn-hangzhou"),
        )
        monitor = RecordingMonitor(fabricator)
        mocks.set_mocks(fabricator, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        exported: dict[str, Any] = {}

        async def run_program() -> None:
            program()
            root = runtime_settings.get_root_resource()
            for name, value in getattr(root, "outputs", {}).items():
                output = Output.from_input(value)
                secret = await output.is_secret()
                # secrets stay masked in the plan, as `pulumi stack output` shows them; values
                # only `pulumi up` learns (an image digest) are marked, as a preview shows them
                if secret:
                    exported[name] = SECRET_MASK
                elif not await output.is_known():
                    exported[name] = UNKNOWN_MASK
                else:
                    exported[name] = _mask_stand_ins(await output.future())

        try:
            loop.run_until_complete(run_pulumi_func(run_program))
        except RunError as e:
            if isinstance(e.__cause__, ConfigError):
                raise e.__cause__ from None
            raise
        return OfflinePlan(stack, monitor.recorded, exported)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def release_settings(stack: str, overrides: Mapping[str, Any] | None = None):
    """The release templates' settings of a committed stack file, with the stand-in steps
    image the offline run gives them (for tests and benchmarks of the templates alone)."""
    import dataclasses

    from railyard import config as stack_config
    from stacks.program import release_settings as from_config

    values, secret_keys = load_stack_config(stack, overrides)
    cfg = stack_config.load(values, secret_keys)
    steps = f"{FAKE_ACCOUNT}.dkr.ecr.{cfg.aws_region}.amazonaws.com/{cfg.steps_image_repository}"
    return dataclasses.replace(from_config(cfg), steps_image=f"{steps}@{OFFLINE_DIGEST}")
