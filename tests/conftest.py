import pytest

from offline.runner import collect_less_often
from tests import scheduling
from tests.harness import stack_plan  # noqa: F401 - fixture

# Each test process (every xdist worker collects tests/) imports the provider SDKs and moto's
# backends: a few million objects that live as long as the process, which the collector's
# default thresholds walk over and over.
collect_less_often()


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return scheduling.auto_workers()


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    # under -n, xdist's default distribution is `load`; any other --dist keeps its meaning
    if config.getvalue("dist") != "load":
        return None
    return scheduling.StackTestsOnOneWorker(config, log)
