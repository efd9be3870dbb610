"""How `make test` spreads the suite over xdist workers (tests/scheduling.py)."""

import pytest

from tests import conftest, scheduling

STACK_TESTS = [
    "tests/stack/test_delivery.py::test_cloudfront_reads_the_bucket_only_through_oac_over_https[dev]",
    "tests/test_plan_cli.py::test_bad_config_exits_2_naming_the_key",
    "tests/unit/test_cidr.py::test_subnets_do_not_overlap",
]
RUNTIME_TESTS = [
    "runtime/tests/test_agent_api.py::test_a_build_runs_and_its_apk_lands_in_oss",
    "runtime/tests/test_agent_api.py::test_the_long_poll_notices_completion_within_two_seconds",
    "runtime/tests/test_kanban_bridge.py::test_a_move_repeated_after_a_kill_carries_the_same_move_id",
]


@pytest.fixture
def under_xdist(pytestconfig, monkeypatch):
    """The config as `pytest -n 4` leaves it for the controller's scheduler."""
    monkeypatch.setattr(pytestconfig.option, "dist", "load")
    monkeypatch.setattr(pytestconfig.option, "tx", ["popen"] * 4)
    return pytestconfig


def test_every_stack_test_is_one_work_unit_and_each_runtime_test_its_own(under_xdist):
    scheduler = conftest.pytest_xdist_make_scheduler(under_xdist, None)
    assert isinstance(scheduler, scheduling.StackTestsOnOneWorker)
    assert {scheduler._split_scope(n) for n in STACK_TESTS} == {"tests/"}
    assert [scheduler._split_scope(n) for n in RUNTIME_TESTS] == RUNTIME_TESTS


@pytest.mark.parametrize("dist", ["loadfile", "loadscope", "worksteal", "each"])
def test_a_distribution_asked_for_by_name_is_left_to_xdist(under_xdist, monkeypatch, dist):
    monkeypatch.setattr(under_xdist.option, "dist", dist)
    assert conftest.pytest_xdist_make_scheduler(under_xdist, None) is None


def test_auto_is_two_workers_per_core_the_process_may_use(pytestconfig, monkeypatch):
    monkeypatch.setattr(scheduling.os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    assert conftest.pytest_xdist_auto_num_workers(pytestconfig) == 6
    monkeypatch.delattr(scheduling.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(scheduling.os, "cpu_count", lambda: 8)
    assert conftest.pytest_xdist_auto_num_workers(pytestconfig) == 16
