from offline.runner import collect_less_often
from tests.harness import stack_plan  # noqa: F401 - fixture

# Each test process (every xdist worker collects tests/) imports the provider SDKs and moto's
# backends: a few million objects that live as long as the process, which the collector's
# default thresholds walk over and over.
collect_less_often()
