from tests.harness import stack_plan  # noqa: F401 - fixture
