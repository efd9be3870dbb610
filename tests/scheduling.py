"""How `make test` (``pytest -n auto``) spreads the suite over xdist workers.

- Two workers per core: the runtime's tests spend much of their time waiting on real agent
  and bridge processes, moto and socket timeouts, and a second worker runs while one waits.
- Most tests under ``tests/`` run the stack program or read its recorded plans: a worker that
  takes one of them first imports about 1,400 provider SDK modules and records both stacks, a
  few CPU-seconds each time. The tests under ``tests/`` run together on one worker, which pays
  that once; the runtime's tests (``runtime/tests``), which import none of it, go one at a time
  to whichever worker is free, as xdist's default ``load`` distribution does. (So
  ``pytest -n 4 tests/`` runs on one worker; without ``-n`` a subset runs in pytest's process.)
"""

from __future__ import annotations

import os

from xdist.scheduler import LoadScopeScheduling

WORKERS_PER_CORE = 2
STACK_TESTS = "tests/"


def cores() -> int:
    """The cores this process may run on (all of them where the OS cannot say)."""
    if hasattr(os, "sched_getaffinity"):  # Linux: honours taskset and container CPU sets
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def auto_workers() -> int:
    return WORKERS_PER_CORE * cores()


def work_unit(nodeid: str) -> str:
    """What goes to a worker as one piece: every stack test together, any other test alone."""
    return STACK_TESTS if nodeid.startswith(STACK_TESTS) else nodeid


class StackTestsOnOneWorker(LoadScopeScheduling):
    """xdist's scope scheduling with ``work_unit`` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
