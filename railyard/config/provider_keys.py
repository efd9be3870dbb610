"""The config keys each provider reads, from the providers' own SDKs.

``aws:regoin`` is no error to Pulumi: a provider ignores keys it does not know, so a typo in a
provider key silently changes nothing. The valid keys come from the SDK packages the stack
runs with: the config modules of pulumi_aws and pulumi_alicloud (each key is read there with
``__config__.get…('<key>')``) and the arguments of the Kubernetes provider (its SDK has no
config module; every ``kubernetes:`` key is a provider argument in camelCase).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import re

NAMESPACES = ("aws", "alicloud", "kubernetes")
_GETTERS = {"get", "get_bool", "get_int", "get_float", "get_object", "require"}


@functools.cache
def known_keys(namespace: str) -> frozenset[str]:
    """Keys (without the namespace) the provider ``namespace`` reads from stack config."""
    if namespace == "kubernetes":
        from pulumi_kubernetes.provider import ProviderArgs

        names = inspect.signature(ProviderArgs.__init__).parameters
        return frozenset(_camel(n) for n in names if n not in ("self", "__self__"))
    spec = importlib.util.find_spec(f"pulumi_{namespace}.config.vars")
    if spec is None or spec.origin is None:
        raise RuntimeError(f"pulumi_{namespace} has no config module: its keys cannot be checked")
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    keys = frozenset(
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _GETTERS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "__config__"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )
    if not keys:  # the SDK's layout changed: fail loudly rather than stop checking
        raise RuntimeError(f"no config keys found in {spec.origin}")
    return keys


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def namespace_of(key: str) -> str | None:
    """The provider namespace of a full key (``aws:region`` -> ``aws``), if it is one we check."""
    match = re.match(r"^([a-z]+):", key)
    return match.group(1) if match and match.group(1) in NAMESPACES else None
