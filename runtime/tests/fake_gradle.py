"""Stands in for Gradle in the agent's tests: logs, waits, writes an APK (or fails).

FAKE_BUILD_GATE: wait until this file exists (the test decides when the build ends).
FAKE_BUILD_SECONDS: otherwise sleep this long. FAKE_BUILD_FAIL: exit 3 instead.
Exits on its own when its agent is gone, so a killed agent leaves nothing behind.
"""

import os
import sys
import time
from pathlib import Path

parent = os.getppid()
commit = os.environ["RAILYARD_COMMIT"]
print(f"> Task :app:assembleRelease ({commit})", flush=True)
gate = os.environ.get("FAKE_BUILD_GATE")
end = time.monotonic() + (60 if gate else float(os.environ.get("FAKE_BUILD_SECONDS", "0.3")))
while time.monotonic() < end and not (gate and os.path.exists(gate)):
    if os.getppid() != parent:
        sys.exit(9)
    time.sleep(0.02)
if os.environ.get("FAKE_BUILD_FAIL"):
    print("FAILURE: Build failed with an exception: compile error", flush=True)
    sys.exit(3)
apk = Path("app/build/outputs/apk/release/app-release.apk")
apk.parent.mkdir(parents=True)
apk.write_bytes(b"APK " + commit.encode())
print("BUILD SUCCESSFUL", flush=True)
