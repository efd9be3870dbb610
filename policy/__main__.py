"""The policy pack the Pulumi engine starts (`pulumi preview --policy-pack policy`).

Building a ``PolicyPack`` starts the analyzer's gRPC server and blocks, so this file only wires;
the policies live in ``railyard_policy`` where tests and the offline plan import them. The pack
runs from a checkout of this repository: the VPN policy reads proposals with ``railyard.ipsec``.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE), str(_HERE.parent)]

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from railyard_policy import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
)
