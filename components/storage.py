"""Private, encrypted, versioned buckets on both clouds: one definition each, used everywhere.

Nothing here is ever public: S3 gets all four public-access blocks and enforced bucket
ownership (ACLs off); OSS gets a private ACL and the bucket-level public-access block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
import pulumi_random as random


@dataclass
class PrivateS3BucketArgs:
    keep_noncurrent_versions: int
    """Older versions kept per object (the rollback depth); older ones expire."""
    noncurrent_days: int = 30
    """Days an older version lives at least (S3 needs both a count and an age)."""
    expire_after_days: int | None = None
    """Delete current objects after this many days (None: keep)."""
    expire_prefix: str = ""
    """Only objects under this prefix expire (empty: all of them)."""


class PrivateS3Bucket(pulumi.ComponentResource):
    """An S3 bucket nobody reaches without being granted it by policy."""

    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateS3BucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:storage:PrivateS3Bucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(name, opts=child)
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="keep-recent-versions",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=args.noncurrent_days,
                newer_noncurrent_versions=args.keep_noncurrent_versions,
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            ),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                days=args.expire_after_days
            )
            if args.expire_after_days and not args.expire_prefix
            else aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                expired_object_delete_marker=True
            ),
        )
        rules = [rule]
        if args.expire_after_days and args.expire_prefix:  # the rest of the bucket is kept
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-prefix",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                        prefix=args.expire_prefix
                    ),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expire_after_days
                    ),
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=self.bucket.id,
            rules=rules,
            # lifecycle rules on noncurrent versions need versioning on first
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})


@dataclass
class PrivateOssBucketArgs:
    name_prefix: str
    """Bucket names are global: a random suffix is added to this prefix."""
    noncurrent_days: int = 30
    """Days an older version of an object is kept."""
    expire_after_days: int | None = None
    """Delete objects after this many days (None: keep)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the bucket."""


class PrivateOssBucket(pulumi.ComponentResource):
    """An OSS bucket with a private ACL, public access blocked, SSE and versioning."""

    bucket: alicloud.oss.Bucket
    name: pulumi.Output[str]
    extranet_domain: pulumi.Output[str]
    intranet_domain: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateOssBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:storage:PrivateOssBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        suffix = random.RandomId(name, byte_length=3, opts=child)
        rules: Sequence[alicloud.oss.BucketLifecycleRuleArgs] = [
            alicloud.oss.BucketLifecycleRuleArgs(
                id="keep-recent-versions",
                enabled=True,
                prefix="",
                noncurrent_version_expirations=[
                    alicloud.oss.BucketLifecycleRuleNoncurrentVersionExpirationArgs(
                        days=args.noncurrent_days
                    )
                ],
                abort_multipart_uploads=[
                    alicloud.oss.BucketLifecycleRuleAbortMultipartUploadArgs(days=7)
                ],
                expirations=[
                    alicloud.oss.BucketLifecycleRuleExpirationArgs(days=args.expire_after_days)
                    if args.expire_after_days
                    else alicloud.oss.BucketLifecycleRuleExpirationArgs(
                        expired_object_delete_marker=True
                    )
                ],
            )
        ]
        self.bucket = alicloud.oss.Bucket(
            name,
            bucket=suffix.hex.apply(lambda h: f"{args.name_prefix}-{h}"),
            lifecycle_rules=rules,
            tags=dict(args.tags),
            opts=child,
        )
        alicloud.oss.BucketAcl(name, bucket=self.bucket.bucket, acl="private", opts=child)
        alicloud.oss.BucketPublicAccessBlock(
            name, bucket=self.bucket.bucket, block_public_access=True, opts=child
        )
        alicloud.oss.BucketServerSideEncryption(
            name, bucket=self.bucket.bucket, sse_algorithm="AES256", opts=child
        )
        alicloud.oss.BucketVersioning(name, bucket=self.bucket.bucket, status="Enabled", opts=child)
        self.name = self.bucket.bucket
        self.extranet_domain = pulumi.Output.concat(self.name, ".", self.bucket.extranet_endpoint)
        self.intranet_domain = pulumi.Output.concat(self.name, ".", self.bucket.intranet_endpoint)
        self.register_outputs({"name": self.name, "extranet_domain": self.extranet_domain})
