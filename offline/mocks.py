"""The mocks of the offline run: inputs echoed as outputs, and the computed outputs the program
reads made up from documentation ranges and stable hashes (never a real account or address)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable
from typing import Any

from pulumi.runtime import mocks, rpc

FAKE_ACCOUNT = "123456789012"
FAKE_ALIBABA_ACCOUNT = "1234567890123456"
# The steps image's digest exists only after `pulumi up` pushes it; offline it is this
# stand-in (never a real image), masked wherever the plan prints values.
OFFLINE_DIGEST = "sha256:" + "0" * 64


def _secret(value: Any) -> dict[str, Any]:
    return rpc.wrap_rpc_secret(value)


class FabricatingMocks(mocks.Mocks):
    """Echo inputs as outputs and make up the computed outputs the program reads."""

    def __init__(self, region: str, alibaba_region: str) -> None:
        self.region = region
        self.alibaba_region = alibaba_region
        # documentation ranges (RFC 5737): never routable, easy to spot
        self._ranges = {
            "aws": ipaddress.IPv4Network("203.0.113.0/24"),
            "alibaba": ipaddress.IPv4Network("198.51.100.0/24"),
        }
        self._given: set[str] = set()

    def _ip(self, side: str, owner: str) -> str:
        """An address picked by the owner's name (not by registration order), never given twice."""
        hosts = list(self._ranges[side].hosts())
        start = int(hashlib.sha256(owner.encode()).hexdigest(), 16) % len(hosts)
        for step in range(len(hosts)):
            ip = str(hosts[(start + step) % len(hosts)])
            if ip not in self._given:
                self._given.add(ip)
                return ip
        raise RuntimeError(f"the offline {side} range has no address left for {owner}")

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


def _oidc_issuer(m: FabricatingMocks, rid: str) -> str:
    cluster = hashlib.sha256(rid.encode()).hexdigest()[:32].upper()
    return f"oidc.eks.{m.region}.amazonaws.com/id/{cluster}"


def _vpn_connection(m: FabricatingMocks, args: mocks.MockResourceArgs, _: str) -> dict:
    out: dict[str, Any] = {}
    for n in (1, 2):
        inside = ipaddress.IPv4Network(rpc.unwrap_rpc_secret(args.inputs[f"tunnel{n}InsideCidr"]))
        out[f"tunnel{n}Address"] = m._ip("aws", f"{args.name}/tunnel{n}")
        out[f"tunnel{n}VgwInsideAddress"] = str(inside.network_address + 1)
        out[f"tunnel{n}CgwInsideAddress"] = str(inside.network_address + 2)
    return out


def _alibaba_vpn_gateway(m: FabricatingMocks, args: mocks.MockResourceArgs, _: str) -> dict:
    out = {"internetIp": m._ip("alibaba", args.name)}
    if args.inputs.get("disasterRecoveryVswitchId"):
        out["disasterRecoveryInternetIp"] = m._ip("alibaba", f"{args.name}/disaster-recovery")
    return out


def _random_password(_: FabricatingMocks, args: mocks.MockResourceArgs, rid: str) -> dict:
    length = int(args.inputs.get("length", 16))
    digits_to_letters = str.maketrans("0123456789", "ghijklmnop")  # never a leading '0'
    letters = hashlib.sha256(rid.encode()).hexdigest().translate(digits_to_letters)
    value = (letters * 4)[:length]
    return {"result": _secret(value), "bcryptHash": _secret("$2a$10$offline")}


_FABRICATORS: dict[str, Callable[[FabricatingMocks, mocks.MockResourceArgs, str], dict]] = {
    "aws:ec2/vpnConnection:VpnConnection": _vpn_connection,
    "alicloud:vpn/gateway:Gateway": _alibaba_vpn_gateway,
    "random:index/randomPassword:RandomPassword": _random_password,
    "alicloud:vpc/network:Network": lambda m, a, rid: {
        "routeTableId": f"vtb-{rid}",
        "routerId": f"vrt-{rid}",
    },
    "alicloud:vpc/natGateway:NatGateway": lambda m, a, rid: {"snatTableIds": f"stb-{rid}"},
    "alicloud:ecs/eipAddress:EipAddress": lambda m, a, rid: {"ipAddress": m._ip("alibaba", a.name)},
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
    "aws:eks/nodeGroup:NodeGroup": lambda m, a, rid: {
        "resources": [{"autoscalingGroups": [{"name": f"eks-{a.name}-{rid}"}]}]
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda m, a, rid: {
        "dnsName": f"{a.name}-{rid[:8]}.elb.{m.region}.amazonaws.com"
    },
    "aws:rds/subnetGroup:SubnetGroup": lambda m, a, rid: {"name": f"{a.name}-{rid[:7]}"},
    "aws:rds/instance:Instance": lambda m, a, rid: {
        "address": f"{a.name}.{rid[:12]}.{m.region}.rds.amazonaws.com"
    },
    "aws:apigateway/restApi:RestApi": lambda m, a, rid: {
        "rootResourceId": f"root{rid[:6]}",
        "executionArn": f"arn:aws:execute-api:{m.region}:{FAKE_ACCOUNT}:{rid}",
    },
    "aws:apigateway/stage:Stage": lambda m, a, rid: {
        "invokeUrl": f"https://{a.inputs['restApi']}.execute-api.{m.region}.amazonaws.com/"
        f"{a.inputs['stageName']}"
    },
    # pulumi_eks is a provider-side component: the mocks answer for its outputs
    "eks:index:Cluster": lambda m, a, rid: {
        "kubeconfigJson": json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []}),
        "oidcProviderArn": f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/{_oidc_issuer(m, rid)}",
        "oidcIssuer": _oidc_issuer(m, rid),
        "clusterSecurityGroupId": f"sg-{hashlib.sha256(rid.encode()).hexdigest()[:17]}",
    },
}
