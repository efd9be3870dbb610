"""ECR: one repository per service, immutable tags, scan on push, lifecycle, replication."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class ContainerRegistryArgs:
    repositories: Sequence[str]
    """Repository names (backend services, the pipeline-steps image)."""
    release_tag_prefixes: Sequence[str]
    """Release tags (`dev_123`, `prod_123`): the newest ``keep_release_images`` of each stay."""
    keep_release_images: int
    """Release images kept per prefix and repository."""
    replication_destinations: Sequence[str] = ()
    """``region`` (this account) or ``account:region``: where every image is copied."""


def lifecycle_policy(prefixes: Sequence[str], keep: int) -> str:
    """Untagged images go after a day; each release prefix keeps its newest ``keep`` images.

    One rule per prefix: ECR selects images carrying *all* prefixes of a rule's list.
    """
    rules = [
        {
            "rulePriority": 1,
            "description": "expire untagged images after a day",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        }
    ]
    for i, prefix in enumerate(prefixes):
        rules.append(
            {
                "rulePriority": i + 2,
                "description": f"keep the newest {keep} {prefix}* images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [prefix],
                    "countType": "imageCountMoreThan",
                    "countNumber": keep,
                },
                "action": {"type": "expire"},
            }
        )
    return json.dumps({"rules": rules}, sort_keys=True)


class ContainerRegistry(pulumi.ComponentResource):
    """The images every release promotes by retag, never rebuilt, and each region pulls."""

    repository_urls: dict[str, pulumi.Output[str]]
    registry_id: pulumi.Output[str]
    """The account's registry all repositories live in."""

    def __init__(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:delivery:ContainerRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = lifecycle_policy(args.release_tag_prefixes, args.keep_release_images)
        self.repository_urls = {}
        for repo_name in args.repositories:
            logical = f"{name}-{repo_name.replace('/', '-')}"
            repo = aws.ecr.Repository(
                logical,
                name=repo_name,
                image_tag_mutability="IMMUTABLE",  # a tag names one image forever
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")
                ],
                opts=child,
            )
            aws.ecr.LifecyclePolicy(logical, repository=repo.name, policy=policy, opts=child)
            self.repository_urls[repo_name] = repo.repository_url
            self.registry_id = repo.registry_id

        if args.replication_destinations:
            account = aws.get_caller_identity_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).account_id
            destinations = [
                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                    region=region, registry_id=other or account
                )
                for other, _, region in (d.rpartition(":") for d in args.replication_destinations)
            ]
            aws.ecr.ReplicationConfiguration(
                f"{name}-replication",
                replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                    rules=[
                        aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                            destinations=destinations,
                            repository_filters=[
                                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                    filter=repo_name, filter_type="PREFIX_MATCH"
                                )
                                for repo_name in args.repositories
                            ],
                        )
                    ]
                ),
                opts=child,
            )
        self.register_outputs(
            {"repository_urls": self.repository_urls, "registry_id": self.registry_id}
        )
