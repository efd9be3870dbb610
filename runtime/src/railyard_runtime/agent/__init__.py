"""The Android build agent: an HTTP service on each build host (runs builds, keeps jobs in SQLite)."""
