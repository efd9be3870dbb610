"""What the program registered: each resource with its type, name, parent, inputs (secrets
unwrapped, their paths kept), dependencies and outputs, recorded by a mock monitor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks, rpc


@dataclass
class RegisteredResource:
    urn: str
    id: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    """Inputs as the engine would see them, secrets unwrapped (see ``secret_paths``)."""
    secret_paths: list[str]
    """Dotted paths of the inputs that arrived as secrets, e.g. ``tunnel1PresharedKey``."""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    """Input name -> URNs of the resources that input was computed from."""
    provider: str
    additional_secret_outputs: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)

    def is_secret(self, path: str) -> bool:
        """Whether ``path`` is a secret input or lies inside one (``a.b`` or ``a[0]`` in ``a``)."""
        return any(path == p or path.startswith((p + ".", p + "[")) for p in self.secret_paths)


@dataclass
class OfflinePlan:
    stack: str
    resources: list[RegisteredResource]
    outputs: dict[str, Any]

    def of_type(self, type_token: str, under: str | None = None) -> list[RegisteredResource]:
        """Resources of a type; ``under`` (a component type token) keeps those inside it."""
        return [
            r
            for r in self.resources
            if r.type == type_token and (under is None or under in self._ancestor_types(r))
        ]

    def _ancestor_types(self, resource: RegisteredResource) -> set[str]:
        types, by_urn = set(), {r.urn: r for r in self.resources}
        parent = by_urn.get(resource.parent)
        while parent is not None:
            types.add(parent.type)
            parent = by_urn.get(parent.parent)
        return types

    def one(self, type_token: str, under: str | None = None) -> RegisteredResource:
        found = self.of_type(type_token, under)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> RegisteredResource:
        return next(r for r in self.resources if r.urn == urn)

    def children(self, parent: RegisteredResource | None) -> list[RegisteredResource]:
        parent_urn = parent.urn if parent else ""
        return [r for r in self.resources if r.parent == parent_urn]


def _unwrap(value: Any, path: str, secrets: list[str]) -> Any:
    if rpc.is_rpc_secret(value):
        secrets.append(path)
        return _unwrap(rpc.unwrap_rpc_secret(value), path, [])
    if isinstance(value, dict):
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, also keeping what the registration request carried."""

    def __init__(self, mocks_: mocks.Mocks) -> None:
        super().__init__(mocks_)
        self.recorded: list[RegisteredResource] = []

    def RegisterResource(self, request):  # gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        secret_paths: list[str] = []
        inputs = _unwrap(rpc.deserialize_properties(request.object), "", secret_paths)
        self.recorded.append(
            RegisteredResource(
                urn=response.urn,
                id=response.id,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=inputs,
                secret_paths=secret_paths,
                dependencies=list(request.dependencies),
                property_dependencies={
                    key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                },
                provider=request.provider,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                outputs=_unwrap(self.resources[response.urn].state, "", []),
            )
        )
        return response
