"""Argo's workflow archive: PostgreSQL on RDS, reachable from the cluster's nodes only.

The controller writes every finished Workflow there (``archive``) and keeps large node
statuses out of etcd (``nodeStatusOffLoad``); argo-server reads the archive for the UI, so the
history outlives the Workflows' TTL. The database is encrypted, in the private subnets, never
public, admits 5432 from the cluster's security group alone, and its password is generated,
kept as a Pulumi secret and handed to Argo as the Secret the chart points at.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

DATABASE = "argo_workflows"
USERNAME = "argo"
CREDENTIALS_SECRET = "argo-postgres-config"
"""The Secret (keys username, password) in Argo's namespace the controller and server read."""
PORT = 5432
ENGINE_VERSION = "17"
"""A major version: RDS keeps the latest minor of it (engine_version_actual shows which)."""


@dataclass
class WorkflowArchiveArgs:
    namespace: pulumi.Input[str]
    """Argo's namespace: where the credentials Secret goes."""
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Input[str]]
    cluster_security_group_id: pulumi.Input[str]
    """The security group the cluster's nodes share: the only one admitted on 5432."""
    instance_class: str
    storage_gib: int
    ttl: str
    """How long archived Workflows are kept, e.g. 90d."""
    production: bool
    """Deletion protection, a final snapshot, a week of backups and a standby in another zone."""
    tags: dict[str, str]


class WorkflowArchive(pulumi.ComponentResource):
    """The database, its network and credentials; ``persistence`` is the chart's
    ``controller.persistence``. ``opts`` brings the AWS and Kubernetes providers."""

    persistence: dict

    def __init__(
        self, name: str, args: WorkflowArchiveArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("railyard:eks:WorkflowArchive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-password", length=32, special=False, opts=child)
        database = self._database(name, args, password)
        self.credentials = k8s.core.v1.Secret(
            "argo-postgres-config",
            metadata={"name": CREDENTIALS_SECRET, "namespace": args.namespace},
            string_data={
                "username": USERNAME,
                "password": pulumi.Output.secret(password.result),
            },
            opts=child,
        )
        self.database = database
        self.persistence = persistence(database.address, args.ttl)
        self.register_outputs({"endpoint": database.address})

    def _database(self, name, args: WorkflowArchiveArgs, password) -> aws.rds.Instance:
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=args.private_subnet_ids, tags=args.tags, opts=child
        )
        group = aws.ec2.SecurityGroup(
            f"{name}-db",
            vpc_id=args.vpc_id,
            description="Argo workflow archive: PostgreSQL from the cluster's nodes only",
            tags=args.tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-nodes",
            security_group_id=group.id,
            referenced_security_group_id=args.cluster_security_group_id,
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            description="PostgreSQL from the EKS cluster's nodes",
            opts=child,
        )
        return aws.rds.Instance(
            f"{name}-db",
            engine="postgres",
            engine_version=ENGINE_VERSION,
            instance_class=args.instance_class,
            allocated_storage=args.storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=DATABASE,
            username=USERNAME,
            password=pulumi.Output.secret(password.result),
            port=PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            publicly_accessible=False,
            multi_az=args.production,
            backup_retention_period=7 if args.production else 1,
            deletion_protection=args.production,
            skip_final_snapshot=not args.production,
            final_snapshot_identifier=f"{name}-final" if args.production else None,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            tags=args.tags,
            opts=child,
        )


def persistence(host: pulumi.Input[str], ttl: str) -> dict:
    """The chart's ``controller.persistence``: archive and offload to that database, over TLS."""
    return {
        "archive": True,
        "archiveTTL": ttl,
        "nodeStatusOffLoad": True,
        "postgresql": {
            "host": host,
            "port": PORT,
            "database": DATABASE,
            "tableName": DATABASE,
            "userNameSecret": {"name": CREDENTIALS_SECRET, "key": "username"},
            "passwordSecret": {"name": CREDENTIALS_SECRET, "key": "password"},
            "ssl": True,
            "sslMode": "require",
        },
    }
