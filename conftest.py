"""Settings for every test process (tests/ and runtime/tests/)."""

from offline.runner import collect_less_often

# The test processes import the provider SDKs and moto's backends, a few million objects that
# live as long as the process; the collector's default thresholds walk them over and over.
collect_less_often()
