"""What `pulumi up` runs (Pulumi.yaml: `main: stacks/`). Wiring only: see stacks/program.py."""

import sys
from pathlib import Path

# The Pulumi CLI runs this folder with runpy, which puts stacks/ itself on sys.path, not the
# project root that holds the railyard, components and stacks packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stacks.program import main

main()
