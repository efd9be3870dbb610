"""Pre-shared keys, passwords and tokens are Pulumi secrets, never plaintext in state."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from railyard_policy.support import input_is_secret, resource_policy

# Input names that carry a credential. Matched on the last path element, case-insensitive.
SENSITIVE_NAME = re.compile(
    r"(password|passwd|presharedkey|^psk$|secretdata|secretstring|privatekey|apikey|token)$",
    re.IGNORECASE,
)


def sensitive_inputs(props: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Paths of non-empty inputs whose name says they hold a credential."""
    for key in props:
        try:
            value = props[key]
        except UnknownValueError:  # computed at deploy time: not a literal credential
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from sensitive_inputs(value, path)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from sensitive_inputs(item, f"{path}[{i}]")
        elif isinstance(value, str) and value and SENSITIVE_NAME.search(str(key)):
            yield path


def check(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type.startswith("pulumi:providers:"):
        return  # provider credentials come from the environment, not from this program
    hidden = args.opts.additional_secret_outputs or ()
    for path in sensitive_inputs(args.props):
        if not input_is_secret(args.urn, path, hidden):
            yield (
                f"{path} holds a credential in plaintext; pass it as a secret "
                "(pulumi.Output.secret or a secret config value)"
            )


POLICY = resource_policy(
    "credentials-are-secrets",
    "VPN pre-shared keys, passwords and tokens are Pulumi secrets.",
    check,
)
