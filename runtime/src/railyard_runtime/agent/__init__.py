"""The Android build agent: an HTTP service on each build host; jobs kept in SQLite."""
