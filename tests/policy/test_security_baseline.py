"""The security baseline: one compliant and one violating case per rule, props behind proxies."""

import json

import pytest

from railyard.ipsec import IpsecProposal
from railyard_policy import cloudfront, compute, iam, network, registry, secrets, storage, vpn
from railyard_policy.support import OfflineFacts, offline_facts
from tests.policy.helpers import Stack, resource_violations

S3 = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ALL_BLOCKED = dict.fromkeys(storage.S3_BLOCK_FLAGS, True)


# --- S3 ---------------------------------------------------------------------------------------
def s3_stack(block=ALL_BLOCKED, encrypted=True, acl=None) -> Stack:
    stack = Stack()
    bucket = stack.add(S3, "site", {"acl": acl} if acl else {})
    if block is not None:
        stack.add(PAB, "site-pab", {**block, "bucket": "site"}, bucket=bucket)
    if encrypted:
        stack.add(SSE, "site-sse", {"bucket": "site"}, bucket=bucket)
    return stack


def test_s3_compliant():
    assert s3_stack().violations(storage.S3_POLICY) == []


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (lambda: s3_stack(block=None), "site: no BucketPublicAccessBlock"),
        (
            lambda: s3_stack(block={**ALL_BLOCKED, "restrictPublicBuckets": False}),
            "site-pab: restrictPublicBuckets must be true",
        ),
        (lambda: s3_stack(encrypted=False), "site: no default encryption"),
        (lambda: s3_stack(acl="public-read"), "site: acl 'public-read' makes it public"),
    ],
)
def test_s3_violations(stack, expected):
    messages = [m for _, m in stack().violations(storage.S3_POLICY)]
    assert any(m.startswith(expected) for m in messages), messages


def test_a_block_of_another_bucket_does_not_count():
    stack = Stack()
    other = stack.add(S3, "other", {})
    stack.add(S3, "site", {})
    stack.add(PAB, "other-pab", {**ALL_BLOCKED}, bucket=other)
    stack.add(SSE, "other-sse", {}, bucket=other)
    messages = [m for _, m in stack.violations(storage.S3_POLICY)]
    assert messages == [
        "site: no BucketPublicAccessBlock; add one with blockPublicAcls=true, "
        "blockPublicPolicy=true, ignorePublicAcls=true, restrictPublicBuckets=true",
        "site: no default encryption; add a BucketServerSideEncryptionConfiguration "
        "(aws:kms or AES256)",
    ]


# --- OSS --------------------------------------------------------------------------------------
def oss_stack(acl="private", blocked=True, inline_acl=None) -> Stack:
    stack = Stack()
    bucket = stack.add(storage.OSS_BUCKET, "apks", {"acl": inline_acl} if inline_acl else {})
    stack.add(storage.OSS_ACL, "apks-acl", {"acl": acl}, bucket=bucket)
    stack.add(
        storage.OSS_PUBLIC_ACCESS_BLOCK, "apks-pab", {"blockPublicAccess": blocked}, bucket=bucket
    )
    return stack


def test_oss_compliant():
    assert oss_stack().violations(storage.OSS_POLICY) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"acl": "public-read"}, "apks-acl: acl 'public-read'"),
        ({"blocked": False}, "apks: no BucketPublicAccessBlock"),
        ({"inline_acl": "public-read-write"}, "apks: acl 'public-read-write'"),
    ],
)
def test_oss_violations(kwargs, expected):
    messages = [m for _, m in oss_stack(**kwargs).violations(storage.OSS_POLICY)]
    assert any(m.startswith(expected) for m in messages), messages


# --- CloudFront -------------------------------------------------------------------------------
def distribution(**changes) -> dict:
    props = {
        "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"},
        "orderedCacheBehaviors": [
            {"pathPattern": "/assets/*", "viewerProtocolPolicy": "https-only"}
        ],
        "origins": [
            {"originId": "s3", "domainName": "b.s3.amazonaws.com", "originAccessControlId": "oac-1"}
        ],
        "viewerCertificate": {"cloudfrontDefaultCertificate": True},
    }
    props.update(changes)
    return props


def cf(props) -> list[str]:
    return resource_violations(cloudfront.POLICY, cloudfront.DISTRIBUTION, props)


def test_cloudfront_compliant():
    assert cf(distribution()) == []
    custom = {"acmCertificateArn": "arn:x", "minimumProtocolVersion": "TLSv1.2_2021"}
    assert cf(distribution(viewerCertificate=custom)) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"}},
            "defaultCacheBehavior.viewerProtocolPolicy is 'allow-all'",
        ),
        (
            {"orderedCacheBehaviors": [{"viewerProtocolPolicy": "allow-all"}]},
            "orderedCacheBehaviors[0].viewerProtocolPolicy is 'allow-all'",
        ),
        (
            {"origins": [{"originId": "s3", "domainName": "b"}]},
            "origins[0]: S3 origin without originAccessControlId",
        ),
        (
            {
                "origins": [
                    {
                        "originId": "s3",
                        "s3OriginConfig": {"originAccessIdentity": "oai"},
                        "originAccessControlId": "oac",
                    }
                ]
            },
            "origins[0]: uses a legacy origin access identity",
        ),
        (
            {
                "origins": [
                    {"originId": "api", "customOriginConfig": {"originProtocolPolicy": "http-only"}}
                ]
            },
            "origins[0].customOriginConfig.originProtocolPolicy must be 'https-only'",
        ),
        (
            {"viewerCertificate": {"acmCertificateArn": "a", "minimumProtocolVersion": "TLSv1"}},
            "viewerCertificate.minimumProtocolVersion is 'TLSv1'",
        ),
    ],
)
def test_cloudfront_violations(changes, expected):
    assert any(m.startswith(expected) for m in cf(distribution(**changes))), cf(
        distribution(**changes)
    )


# --- Security groups --------------------------------------------------------------------------
def sg_stack(cidr: str, port: int, on_lb: bool, cloud: str = "alibaba") -> Stack:
    stack = Stack()
    if cloud == "alibaba":
        group = stack.add("alicloud:ecs/securityGroup:SecurityGroup", "lb-sg", {})
        stack.add(
            network.ALIBABA_RULE,
            "https",
            {
                "type": "ingress",
                "ipProtocol": "tcp",
                "portRange": f"{port}/{port}",
                "cidrIp": cidr,
                "policy": "accept",
            },
            securityGroupId=group,
        )
        if on_lb:
            stack.add("alicloud:nlb/loadBalancer:LoadBalancer", "nlb", {}, securityGroupIds=group)
    else:
        group = stack.add("aws:ec2/securityGroup:SecurityGroup", "lb-sg", {})
        stack.add(
            network.AWS_INGRESS_RULE,
            "https",
            {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": cidr},
            securityGroupId=group,
        )
        if on_lb:
            stack.add("aws:lb/loadBalancer:LoadBalancer", "alb", {}, securityGroups=group)
    return stack


@pytest.mark.parametrize("cloud", ["aws", "alibaba"])
def test_https_from_the_world_on_a_load_balancer_is_allowed(cloud):
    assert sg_stack("0.0.0.0/0", 443, on_lb=True, cloud=cloud).violations(network.POLICY) == []
    assert sg_stack("10.0.0.0/8", 22, on_lb=False, cloud=cloud).violations(network.POLICY) == []


@pytest.mark.parametrize("cloud", ["aws", "alibaba"])
@pytest.mark.parametrize(
    ("cidr", "port", "on_lb"),
    [
        ("0.0.0.0/0", 22, True),  # not 443
        ("0.0.0.0/0", 443, False),  # not a load balancer's group
        ("::/0", 80, True),
    ],
)
def test_world_open_ingress_is_refused(cloud, cidr, port, on_lb):
    ((urn, message),) = sg_stack(cidr, port, on_lb, cloud).violations(network.POLICY)
    assert urn.endswith("::https") and "from the whole internet" in message


def test_inline_rules_of_aws_groups_are_checked():
    stack = Stack()
    stack.add(
        "aws:ec2/securityGroup:SecurityGroup",
        "web",
        {
            "ingress": [
                {"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0"]}
            ]
        },
    )
    ((_, message),) = stack.violations(network.POLICY)
    assert message.startswith("web: ingress[0] admits tcp 0-65535")


# --- IMDSv2 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("type_token", "good", "bad"),
    [
        (
            "aws:ec2/instance:Instance",
            {"metadataOptions": {"httpTokens": "required"}},
            {"metadataOptions": {"httpTokens": "optional"}},
        ),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"metadataOptions": {"httpTokens": "required"}},
            {},
        ),
        ("alicloud:ecs/instance:Instance", {"httpTokens": "required"}, {"httpTokens": "optional"}),
        ("alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate", {"httpTokens": "required"}, {}),
        (
            "alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate",
            {"httpTokens": "required"},
            {"httpTokens": "optional"},
        ),
        # not a value the ECS API takes: the host would never launch
        (
            "alicloud:ecs/ecsLaunchTemplate:EcsLaunchTemplate",
            {"httpTokens": "required"},
            {"httpTokens": "enforced"},
        ),
        (
            "alicloud:ess/scalingConfiguration:ScalingConfiguration",
            {"httpEndpoint": "disabled"},
            {"httpEndpoint": "enabled"},
        ),
        ("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt-1", "version": "1"}}, {}),
        ("eks:index:ManagedNodeGroup", {"enableIMDSv2": True}, {"enableIMDSv2": False}),
        ("eks:index:Cluster", {"skipDefaultNodeGroup": True}, {}),
    ],
)
def test_imdsv2(type_token, good, bad):
    assert resource_violations(compute.IMDS_POLICY, type_token, good) == []
    assert resource_violations(compute.IMDS_POLICY, type_token, bad)


# --- EKS endpoint -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("type_token", "public", "private"),
    [
        (
            "aws:eks/cluster:Cluster",
            {"vpcConfig": {"endpointPublicAccess": True}},
            {"vpcConfig": {"endpointPublicAccess": False}},
        ),
        ("eks:index:Cluster", {}, {"endpointPublicAccess": False}),  # pulumi_eks default: public
    ],
)
def test_eks_endpoint_is_private_in_production_stacks_only(type_token, public, private):
    def check(stack: str, props: dict) -> list[str]:
        with offline_facts(OfflineFacts(stack=stack)):
            return resource_violations(compute.EKS_ENDPOINT_POLICY, type_token, props)

    assert check("prod", public) and check("prod", private) == []
    assert check("dev", public) == []


def test_which_stacks_are_production_is_config():
    with offline_facts(OfflineFacts(stack="stage")):
        config = {"productionStacks": ["prod", "stage"], "exemptResources": []}
        assert resource_violations(
            compute.EKS_ENDPOINT_POLICY, "eks:index:Cluster", {}, config=config
        )


# --- ECR --------------------------------------------------------------------------------------
def test_ecr():
    good = {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}
    assert resource_violations(registry.POLICY, registry.REPOSITORY, good) == []
    bad = {"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": False}}
    assert resource_violations(registry.POLICY, registry.REPOSITORY, bad) == [
        "imageTagMutability is 'MUTABLE'; set 'IMMUTABLE'",
        "imageScanningConfiguration.scanOnPush must be true",
    ]


# --- IAM / RAM --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("type_token", "field"),
    [("aws:iam/rolePolicy:RolePolicy", "policy"), ("alicloud:ram/policy:Policy", "policyDocument")],
)
def test_no_wildcard_admin(type_token, field):
    scoped = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
        ]
    }
    assert resource_violations(iam.POLICY, type_token, {field: json.dumps(scoped)}) == []
    admin = {"Statement": {"Effect": "Allow", "Action": "*:*", "Resource": ["*"]}}
    (message,) = resource_violations(iam.POLICY, type_token, {field: json.dumps(admin)})
    assert message.startswith(f"{field}.Statement[0] allows every action")


# --- Secrets ----------------------------------------------------------------------------------
VPN = "aws:ec2/vpnConnection:VpnConnection"
URN = f"urn:pulumi:test::railyard::{VPN}::r"


def test_credentials_offline_must_arrive_as_secrets():
    props = {"tunnel1PresharedKey": "abcdefgh1234", "tunnel1InsideCidr": "169.254.10.0/30"}
    arrived_secret = {(URN, "tunnel1PresharedKey")}
    with offline_facts(OfflineFacts("dev", lambda *urn_path: urn_path in arrived_secret)):
        assert resource_violations(secrets.POLICY, VPN, props) == []
    with offline_facts(OfflineFacts("dev", lambda urn, path: False)):
        (message,) = resource_violations(secrets.POLICY, VPN, props)
    assert message.startswith("tunnel1PresharedKey holds a credential in plaintext")
    assert "abcdefgh1234" not in message


def test_credentials_nested_in_lists_are_found():
    props = {"tunnelOptionsSpecifications": [{"tunnelIkeConfig": {"psk": "abcdefgh1234"}}]}
    paths = list(secrets.sensitive_inputs(props))
    assert paths == ["tunnelOptionsSpecifications[0].tunnelIkeConfig.psk"]
    assert list(secrets.sensitive_inputs({"metadataOptions": {"httpTokens": "required"}})) == []


def test_credentials_under_the_engine_need_additional_secret_outputs():
    props = {"secretData": "token-value"}
    kms = "alicloud:kms/secret:Secret"
    assert (
        resource_violations(secrets.POLICY, kms, props, additional_secret_outputs=["secretData"])
        == []
    )
    assert resource_violations(secrets.POLICY, kms, props)


# --- VPN parity -------------------------------------------------------------------------------
def aws_side(proposal: IpsecProposal, **changes) -> dict:
    props = {}
    for tunnel in (1, 2):
        props.update({_camel(k): v for k, v in proposal.aws_tunnel_args(tunnel).items()})
    props["staticRoutesOnly"] = False
    props.update(changes)
    return props


def alibaba_side(proposal: IpsecProposal, roles=("master", "slave")) -> dict:
    ike = {_camel(k): v for k, v in proposal.alibaba_ike_config().items()}
    ipsec = {_camel(k): v for k, v in proposal.alibaba_ipsec_config().items()}
    return {
        "enableTunnelsBgp": True,
        "tunnelOptionsSpecifications": [
            {"role": role, "tunnelIkeConfig": ike, "tunnelIpsecConfig": ipsec} for role in roles
        ],
    }


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


def vpn_stack(aws: dict, alibaba: dict) -> Stack:
    stack = Stack()
    stack.add(vpn.AWS_CONNECTION, "conn-1", aws)
    stack.add(vpn.ALIBABA_CONNECTION, "ipsec-1", alibaba)
    return stack


def test_vpn_identical_proposals():
    p = IpsecProposal()
    assert vpn_stack(aws_side(p), alibaba_side(p)).violations(vpn.POLICY) == []


def test_vpn_lifetime_drift_between_clouds():
    aws = aws_side(IpsecProposal())
    alibaba = alibaba_side(IpsecProposal(phase1_lifetime_seconds=86400))
    messages = [m for _, m in vpn_stack(aws, alibaba).violations(vpn.POLICY)]
    assert len(messages) == 2 and all("phase1_lifetime_seconds=86400" in m for m in messages)


def test_vpn_one_tunnel_static_routes_or_two_masters():
    aws = aws_side(IpsecProposal(), staticRoutesOnly=True, tunnel2IkeVersions=["ikev1", "ikev2"])
    alibaba = alibaba_side(IpsecProposal(), roles=("master", "master"))
    alibaba["enableTunnelsBgp"] = False
    messages = [m for _, m in vpn_stack(aws, alibaba).violations(vpn.POLICY)]
    assert any("staticRoutesOnly is true" in m for m in messages)
    assert any("tunnel2 has no single, complete proposal" in m for m in messages)
    assert any("enableTunnelsBgp must be true" in m for m in messages)
    assert any("needs one master and one slave" in m for m in messages)
