"""Buckets: S3 blocks public access and encrypts; OSS buckets stay private."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import StackValidationArgs

from railyard_policy.support import dependents, get, stack_policy

S3_BUCKET = "aws:s3/bucket:Bucket"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_BLOCK_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}

OSS_BUCKET = "alicloud:oss/bucket:Bucket"
OSS_ACL = "alicloud:oss/bucketAcl:BucketAcl"
OSS_PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"


def check_s3(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    resources = args.resources
    for bucket in (r for r in resources if r.resource_type == S3_BUCKET):
        acl = get(bucket.props, "acl")
        if acl in PUBLIC_ACLS:
            yield bucket.urn, f"{bucket.name}: acl {acl!r} makes it public; remove the acl"
        attached = dependents(resources, "bucket", bucket.urn)
        blocks = [b for b in attached if b.resource_type == S3_PUBLIC_ACCESS_BLOCK]
        if not blocks:
            flags = ", ".join(f"{f}=true" for f in S3_BLOCK_FLAGS)
            yield bucket.urn, f"{bucket.name}: no BucketPublicAccessBlock; add one with {flags}"
        for block in blocks:
            off = [f for f in S3_BLOCK_FLAGS if get(block.props, f) is not True]
            if off:
                yield block.urn, f"{block.name}: {', '.join(off)} must be true"
        encrypted = any(e.resource_type in S3_ENCRYPTION for e in attached)
        if not encrypted and not get(bucket.props, "serverSideEncryptionConfiguration"):
            yield (
                bucket.urn,
                (
                    f"{bucket.name}: no default encryption; add a "
                    "BucketServerSideEncryptionConfiguration (aws:kms or AES256)"
                ),
            )


def check_oss(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    resources = args.resources
    for bucket in (r for r in resources if r.resource_type == OSS_BUCKET):
        acl = get(bucket.props, "acl")
        if acl not in (None, "", "private"):
            yield bucket.urn, f"{bucket.name}: acl {acl!r}; OSS buckets must be private"
        attached = dependents(resources, "bucket", bucket.urn)
        for acl_resource in (a for a in attached if a.resource_type == OSS_ACL):
            acl = get(acl_resource.props, "acl")
            if acl != "private":
                yield (
                    acl_resource.urn,
                    (
                        f"{acl_resource.name}: acl {acl!r}; "
                        "set acl='private' (serve through the CDN with origin auth)"
                    ),
                )
        blocked = any(
            b.resource_type == OSS_PUBLIC_ACCESS_BLOCK and get(b.props, "blockPublicAccess") is True
            for b in attached
        )
        if not blocked:
            yield (
                bucket.urn,
                (f"{bucket.name}: no BucketPublicAccessBlock with blockPublicAccess=true; add one"),
            )


S3_POLICY = stack_policy(
    "s3-buckets-private-and-encrypted",
    "S3 buckets have a complete public access block and default encryption.",
    check_s3,
)
OSS_POLICY = stack_policy(
    "oss-buckets-private",
    "OSS buckets are private and block public access.",
    check_oss,
)
