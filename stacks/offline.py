"""Run the real stack program offline, under Pulumi mocks, and record what it registers.

The config comes from the same files the CLI reads (``Pulumi.yaml`` declarations and defaults,
then ``Pulumi.<stack>.yaml``); secure values are replaced by offline placeholders that are
still marked secret. Every registered resource is recorded with its type, name, parent,
inputs, which inputs are secret and its dependencies. The offline plan and the tests both use
this module, so what the tests check is what the plan shows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import Output, RunError
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func

from railyard.config import PROJECT, ConfigError, Problem, yaml_text
from railyard.config.errors import excerpt

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAKE_ACCOUNT = "123456789012"
FAKE_ALIBABA_ACCOUNT = "1234567890123456"
SECRET_MASK = "[secret]"
UNKNOWN_MASK = "[known after pulumi up]"
# The steps image's digest exists only after `pulumi up` pushes it; offline it is this
# stand-in (never a real image), masked wherever the plan prints values.
OFFLINE_DIGEST = "sha256:" + "0" * 64
_DECLARED_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


# --- Config, as the CLI would hand it to the program ----------------------------------------
def load_stack_config(
    stack: str, overrides: Mapping[str, Any] | None = None, root: Path = PROJECT_ROOT
) -> tuple[dict[str, str], list[str]]:
    """Config values (full key -> string, as the CLI passes them) and the secret keys.

    ``overrides`` replace stack values (full keys); a value of ``None`` removes the key.
    Raises ``ConfigError`` for a missing stack file or a value of the wrong declared type.
    """
    project = _yaml_file(root / "Pulumi.yaml")
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        known = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(
            [Problem("stack", f"no {excerpt(stack_file.name)}", f"use one of {known}")]
        )
    values = _mapping(_yaml_file(stack_file).get("config"), stack_file.name, "config")

    declared = {
        _full_key(k): d for k, d in _mapping(project.get("config"), "Pulumi.yaml", "config").items()
    }
    for key, declaration in declared.items():
        if isinstance(declaration, dict) and "default" in declaration:
            values.setdefault(key, declaration["default"])
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value

    problems, secret_keys, config = [], [], {}
    for key, value in values.items():
        declaration = declared.get(key)
        if isinstance(declaration, dict) and "type" in declaration:
            expected = _DECLARED_TYPES[declaration["type"]]
            ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
            if not ok and not _has_secure(value):
                problems.append(
                    Problem(key, f"must be of type {declaration['type']} (Pulumi.yaml declares it)")
                )
        if _has_secure(value):
            secret_keys.append(key)
            value = _offline_secret(value)
        config[key] = _as_config_string(value)
    if problems:
        raise ConfigError(problems)
    return config, secret_keys


def _yaml_file(path: Path) -> Any:
    """A project or stack file, parsed with the config limits (size, depth, no aliases)."""
    try:
        document = yaml_text.load_file(path)
    except yaml_text.YamlInputError as e:
        where = f"line {e.line}: " if e.line else ""
        raise ConfigError([Problem(path.name, where + e.problem)]) from None
    except OSError as e:
        raise ConfigError([Problem(path.name, f"cannot be read ({e.strerror})")]) from None
    return _mapping(document, path.name, "the file")


def _mapping(value: Any, file: str, what: str) -> dict:
    """``value`` as a mapping (empty when absent), or a config error naming the file."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            [Problem(file, f"{what} is a {type(value).__name__}, not a mapping of keys to values")]
        )
    return dict(value)


def _full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _offline_secret(value: Any) -> Any:
    """Replace ciphertexts by stable, valid-looking placeholders (letters and digits, 32 long)."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "offline" + hashlib.sha256(str(value["secure"]).encode()).hexdigest()[:25]
    if isinstance(value, dict):
        return {k: _offline_secret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_offline_secret(v) for v in value]
    return value


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


# --- What the program registered ------------------------------------------------------------
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


def _secret(value: Any) -> dict[str, Any]:
    return rpc.wrap_rpc_secret(value)


class _FabricatingMocks(mocks.Mocks):
    """Echo inputs as outputs and make up the computed outputs the program reads."""

    def __init__(self, region: str, alibaba_region: str) -> None:
        self.region = region
        self.alibaba_region = alibaba_region
        # documentation ranges (RFC 5737): never routable, easy to spot
        self._ips = {
            "aws": iter(ipaddress.IPv4Network("203.0.113.0/24").hosts()),
            "alibaba": iter(ipaddress.IPv4Network("198.51.100.0/24").hosts()),
        }

    def _ip(self, side: str) -> str:
        return str(next(self._ips[side]))

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        digest = hashlib.sha256(f"{args.typ}::{args.name}".encode()).hexdigest()[:12]
        resource_id = f"{args.name}-{digest}"
        outputs = dict(args.inputs)
        fabricate = _FABRICATORS.get(args.typ)
        if fabricate:
            outputs |= fabricate(self, args, resource_id)
        if args.typ.startswith("aws:") and "arn" not in outputs:
            service = args.typ.split(":")[1].split("/")[0]
            outputs["arn"] = f"arn:aws:{service}:{self.region}:{FAKE_ACCOUNT}:{resource_id}"
        return resource_id, outputs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:iam::{FAKE_ACCOUNT}:user/offline-plan"
            return {
                "accountId": FAKE_ACCOUNT,
                "arn": arn,
                "userId": "AIDAOFFLINE",
                "id": FAKE_ACCOUNT,
            }, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = args.args.get("registryId", FAKE_ACCOUNT)
            return {
                "id": registry,
                "registryId": registry,
                "userName": "AWS",
                "password": _secret("offline-registry-token"),
                "authorizationToken": _secret("offline-registry-token"),
                "proxyEndpoint": f"https://{registry}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": "2100-01-01T00:00:00Z",
            }, []
        raise NotImplementedError(f"the offline plan has no answer for invoke {args.token}")


def _mask_stand_ins(value: Any) -> Any:
    """An export holding the stand-in digest is shown as a preview would show it."""
    return UNKNOWN_MASK if OFFLINE_DIGEST in json.dumps(value, default=str) else value


def _oidc_issuer(m: _FabricatingMocks, rid: str) -> str:
    cluster = hashlib.sha256(rid.encode()).hexdigest()[:32].upper()
    return f"oidc.eks.{m.region}.amazonaws.com/id/{cluster}"


def _vpn_connection(m: _FabricatingMocks, args: mocks.MockResourceArgs, _: str) -> dict:
    out: dict[str, Any] = {}
    for n in (1, 2):
        inside = ipaddress.IPv4Network(rpc.unwrap_rpc_secret(args.inputs[f"tunnel{n}InsideCidr"]))
        out[f"tunnel{n}Address"] = m._ip("aws")
        out[f"tunnel{n}VgwInsideAddress"] = str(inside.network_address + 1)
        out[f"tunnel{n}CgwInsideAddress"] = str(inside.network_address + 2)
    return out


def _alibaba_vpn_gateway(m: _FabricatingMocks, args: mocks.MockResourceArgs, _: str) -> dict:
    out = {"internetIp": m._ip("alibaba")}
    if args.inputs.get("disasterRecoveryVswitchId"):
        out["disasterRecoveryInternetIp"] = m._ip("alibaba")
    return out


def _random_password(_: _FabricatingMocks, args: mocks.MockResourceArgs, rid: str) -> dict:
    length = int(args.inputs.get("length", 16))
    digits_to_letters = str.maketrans("0123456789", "ghijklmnop")  # never a leading '0'
    letters = hashlib.sha256(rid.encode()).hexdigest().translate(digits_to_letters)
    value = (letters * 4)[:length]
    return {"result": _secret(value), "bcryptHash": _secret("$2a$10$offline")}


_FABRICATORS: dict[str, Callable[[_FabricatingMocks, mocks.MockResourceArgs, str], dict]] = {
    "aws:ec2/vpnConnection:VpnConnection": _vpn_connection,
    "alicloud:vpn/gateway:Gateway": _alibaba_vpn_gateway,
    "random:index/randomPassword:RandomPassword": _random_password,
    "alicloud:vpc/network:Network": lambda m, a, rid: {
        "routeTableId": f"vtb-{rid}",
        "routerId": f"vrt-{rid}",
    },
    "alicloud:vpc/natGateway:NatGateway": lambda m, a, rid: {"snatTableIds": f"stb-{rid}"},
    "alicloud:ecs/eipAddress:EipAddress": lambda m, a, rid: {"ipAddress": m._ip("alibaba")},
    "alicloud:oss/bucket:Bucket": lambda m, a, rid: {
        "extranetEndpoint": f"oss-{m.alibaba_region}.aliyuncs.com",
        "intranetEndpoint": f"oss-{m.alibaba_region}-internal.aliyuncs.com",
    },
    "alicloud:ims/oidcProvider:OidcProvider": lambda m, a, rid: {
        "arn": f"acs:ram::{FAKE_ALIBABA_ACCOUNT}:oidc-provider/{a.inputs['oidcProviderName']}"
    },
    "alicloud:ram/role:Role": lambda m, a, rid: {
        "arn": f"acs:ram::{FAKE_ALIBABA_ACCOUNT}:role/{a.inputs['roleName']}"
    },
    "alicloud:nlb/loadBalancer:LoadBalancer": lambda m, a, rid: {
        "dnsName": f"{rid}.{m.alibaba_region}.nlb.aliyuncsslb.com"
    },
    "alicloud:cdn/domainNew:DomainNew": lambda m, a, rid: {
        "cname": f"{a.inputs['domainName']}.w.kunlunsl.com"
    },
    "random:index/randomId:RandomId": lambda m, a, rid: {
        "hex": hashlib.sha256(rid.encode()).hexdigest()[: 2 * int(a.inputs["byteLength"])]
    },
    "aws:s3/bucket:Bucket": lambda m, a, rid: {
        "bucket": rid,
        "bucketRegionalDomainName": f"{rid}.s3.{m.region}.amazonaws.com",
    },
    "aws:cloudfront/distribution:Distribution": lambda m, a, rid: {
        "domainName": f"d{hashlib.sha256(rid.encode()).hexdigest()[:13]}.cloudfront.net",
        "arn": f"arn:aws:cloudfront::{FAKE_ACCOUNT}:distribution/{rid}",
    },
    "aws:ecr/repository:Repository": lambda m, a, rid: {
        "repositoryUrl": f"{FAKE_ACCOUNT}.dkr.ecr.{m.region}.amazonaws.com/{a.inputs['name']}",
        "registryId": FAKE_ACCOUNT,
    },
    # Built and pushed only by `pulumi up`. Offline it gets a stand-in digest so what is
    # rendered from it (the WorkflowTemplates) can be checked; the plan shows it as unknown.
    "docker-build:index:Image": lambda m, a, rid: {"digest": OFFLINE_DIGEST},
    "aws:dynamodb/table:Table": lambda m, a, rid: {
        "name": rid,
        "arn": f"arn:aws:dynamodb:{m.region}:{FAKE_ACCOUNT}:table/{rid}",
    },
    "aws:sqs/queue:Queue": lambda m, a, rid: {
        "url": f"https://sqs.{m.region}.amazonaws.com/{FAKE_ACCOUNT}/{a.inputs['name']}",
        "arn": f"arn:aws:sqs:{m.region}:{FAKE_ACCOUNT}:{a.inputs['name']}",
    },
    # pulumi_eks is a provider-side component: the mocks answer for its outputs
    "eks:index:Cluster": lambda m, a, rid: {
        "kubeconfigJson": json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []}),
        "oidcProviderArn": f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/{_oidc_issuer(m, rid)}",
        "oidcIssuer": _oidc_issuer(m, rid),
        "clusterSecurityGroupId": f"sg-{hashlib.sha256(rid.encode()).hexdigest()[:17]}",
    },
}


class _RecordingMonitor(mocks.MockMonitor):
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


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted work at once, in order: deterministic registration order, and what
    multi-language components (pulumi_eks) need under mocks (DESIGN.md §5)."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # handed to the awaiting coroutine
            future.set_exception(e)
        return future


def run_offline(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    program: Callable[[], None] | None = None,
    root: Path = PROJECT_ROOT,
) -> OfflinePlan:
    """Run the stack program (``stacks.program.main`` by default) for ``stack`` under mocks.

    Raises ``ConfigError`` on bad config, before any resource is registered.
    """
    config, secret_keys = load_stack_config(stack, overrides, root)
    if program is None:
        from stacks.program import main as program
    # A fresh context per run: the SDK keeps its settings, config and root stack in ContextVars.
    return contextvars.Context().run(_run, stack, config, secret_keys, program)


def _run(stack: str, config: dict[str, str], secret_keys: list[str], program) -> OfflinePlan:
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor())
    asyncio.set_event_loop(loop)
    try:
        set_all_config(config, secret_keys)
        fabricator = _FabricatingMocks(
            region=config.get("aws:region", "us-east-1"),
            alibaba_region=config.get("alicloud:region", "cn-hangzhou"),
        )
        monitor = _RecordingMonitor(fabricator)
        mocks.set_mocks(fabricator, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        exported: dict[str, Any] = {}

        async def run_program() -> None:
            program()
            root = runtime_settings.get_root_resource()
            for name, value in getattr(root, "outputs", {}).items():
                output = Output.from_input(value)
                secret = await output.is_secret()
                # secrets stay masked in the plan, as `pulumi stack output` shows them; values
                # only `pulumi up` learns (an image digest) are marked, as a preview shows them
                if secret:
                    exported[name] = SECRET_MASK
                elif not await output.is_known():
                    exported[name] = UNKNOWN_MASK
                else:
                    exported[name] = _mask_stand_ins(await output.future())

        try:
            loop.run_until_complete(run_pulumi_func(run_program))
        except RunError as e:
            if isinstance(e.__cause__, ConfigError):
                raise e.__cause__ from None
            raise
        return OfflinePlan(stack, monitor.recorded, exported)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def release_settings(stack: str, overrides: Mapping[str, Any] | None = None):
    """The release templates' settings of a committed stack file, with the stand-in steps
    image the offline run gives them (for tests and benchmarks of the templates alone)."""
    import dataclasses

    from railyard import config as stack_config
    from stacks.program import release_settings as from_config

    values, secret_keys = load_stack_config(stack, overrides)
    cfg = stack_config.load(values, secret_keys)
    steps = f"{FAKE_ACCOUNT}.dkr.ecr.{cfg.aws_region}.amazonaws.com/{cfg.steps_image_repository}"
    return dataclasses.replace(from_config(cfg), steps_image=f"{steps}@{OFFLINE_DIGEST}")
