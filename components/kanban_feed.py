"""The Kanban event feed: queue, card store and the bridge Deployment (docs/design.md: event feed).

- SQS FIFO queue (group = feature, so one feature's events are consumed in order, one at a
  time) with a dead-letter queue after ``max_receives``; SQS-managed encryption.
- DynamoDB table of cards (key ``feature``): on-demand, encrypted, point-in-time recovery —
  the bridge needs one conditional write per key and nothing else.
- DynamoDB table of every event (key environment + time), expiring after 400 days: the
  history the delivery reports (``railyard-steps report``) read.
- The bridge (``railyard-bridge`` in the steps image, by digest) with its own IRSA role:
  receive/delete/retry on the queue, send to the DLQ (poison messages, with the reason),
  get/put on the cards, put on the history, its error counts to CloudWatch; probes, limits,
  a PodDisruptionBudget, board credentials from a Secret made from a Pulumi secret.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import irsa
from components.owned_namespace import network_policy, owned_namespace
from railyard import node_pools, pod_security
from railyard.iam_policies import put_metrics
from railyard_runtime import history
from railyard_runtime.environment import (
    BOARD_CONFIG_FILE,
    BOARD_FILES_DIR,
    BOARD_SECRET_FILE,
    COLUMN_RULES_FILE,
    BridgeEnv,
)
from railyard_runtime.kanban.board_config import BOARD_CONFIGS, BoardConfig
from railyard_runtime.report import metrics

NAMESPACE = "kanban"
SERVICE_ACCOUNT = "railyard-bridge"
METRICS_PORT = 9102
HTTPS_PORT = 443  # SQS, DynamoDB and STS (IRSA)
VISIBILITY_SECONDS = 60  # the bridge hands back what a batch has not started by half of it


@dataclass
class KanbanFeedArgs:
    board: str
    """webhook | github-projects | jira."""
    board_config: BoardConfig
    """The board's settings (URL, project/field ids, transitions), the model of ``board``."""
    board_secret: pulumi.Input[str] | None
    """HMAC secret (webhook), GitHub token or Jira API token; None: generated (webhook)."""
    column_rules: dict | None
    """Lane/phase → column rules; None: the unified release's defaults."""
    steps_image: pulumi.Input[str]
    aws_region: str
    """Where the queue and table are (the bridge's AWS clients need it set)."""
    replicas: int
    max_receives: int
    scrape_cidrs: list[str]
    """Where a metrics scraper may reach the bridge's port from (the cluster's VPC)."""
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    deletion_protection: bool


class KanbanFeed(pulumi.ComponentResource):
    """The feed's queue, card table and bridge; ``opts`` brings the AWS and Kubernetes providers."""

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    dlq_name: pulumi.Output[str]
    table_name: pulumi.Output[str]
    events_table_name: pulumi.Output[str]
    events_table_arn: pulumi.Output[str]
    board_secret: pulumi.Output[str]
    """Secret; the webhook receiver verifies signatures with it."""

    def __init__(self, name: str, args: KanbanFeedArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:kanban:KanbanFeed", name, None, opts)
        if type(args.board_config) is not BOARD_CONFIGS[args.board]:
            raise ValueError(f"a {args.board} board takes a {BOARD_CONFIGS[args.board].__name__}")
        child = pulumi.ResourceOptions(parent=self)
        if args.board_secret is None:
            generated = random.RandomPassword(
                f"{name}-webhook", length=48, special=False, opts=child
            )
            self.board_secret = pulumi.Output.secret(generated.result)
        else:
            self.board_secret = pulumi.Output.secret(args.board_secret)
        dlq = aws.sqs.Queue(
            f"{name}-events-dlq",
            name=f"{name}-events-dlq.fifo",
            fifo_queue=True,
            message_retention_seconds=14 * 24 * 3600,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-events",
            name=f"{name}-events.fifo",
            fifo_queue=True,
            content_based_deduplication=False,  # the steps set <uid>/<task>/<phase>
            deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=VISIBILITY_SECONDS,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receives}
                )
            ),
            opts=child,
        )
        table = aws.dynamodb.Table(
            f"{name}-cards",
            billing_mode="PAY_PER_REQUEST",
            hash_key="feature",
            attributes=[aws.dynamodb.TableAttributeArgs(name="feature", type="S")],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            opts=child,
        )
        events = self._history(name, args)
        role = aws.iam.Role(
            f"{name}-bridge",
            assume_role_policy=irsa.trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, NAMESPACE, SERVICE_ACCOUNT
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-bridge",
            role=role.id,
            policy=pulumi.Output.all(queue.arn, dlq.arn, table.arn, events.arn).apply(
                lambda v: _bridge_policy(*v)
            ),
            opts=child,
        )
        self._bridge(args, role, queue, dlq, table, events)
        self.queue_url = queue.url
        self.queue_arn = queue.arn
        self.queue_name = queue.name
        self.dlq_name = dlq.name
        self.table_name = table.name
        self.events_table_name = events.name
        self.events_table_arn = events.arn
        self.register_outputs(
            {
                "queueUrl": queue.url,
                "dlqUrl": dlq.url,
                "table": table.name,
                "eventsTable": events.name,
            }
        )

    def _history(self, name: str, args: KanbanFeedArgs) -> aws.dynamodb.Table:
        """Every event, by environment and time, for the delivery reports."""
        return aws.dynamodb.Table(
            f"{name}-events",
            billing_mode="PAY_PER_REQUEST",
            hash_key=history.HASH_KEY,
            range_key=history.RANGE_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=history.HASH_KEY, type="S"),
                aws.dynamodb.TableAttributeArgs(name=history.RANGE_KEY, type="S"),
            ],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=history.EXPIRES, enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _bridge(self, args: KanbanFeedArgs, role, queue, dlq, table, events) -> None:
        child = pulumi.ResourceOptions(parent=self)
        namespace = owned_namespace("kanban", NAMESPACE, child)
        ns = namespace.metadata.name
        account = k8s.core.v1.ServiceAccount(
            "railyard-bridge",
            metadata={
                "name": SERVICE_ACCOUNT,
                "namespace": ns,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
            # the bridge never calls the Kubernetes API; IRSA projects its own token
            automount_service_account_token=False,
            opts=child,
        )
        secret = k8s.core.v1.Secret(
            "board-secret",
            metadata={"name": "railyard-board", "namespace": ns},
            string_data={BOARD_SECRET_FILE.name: self.board_secret},
            opts=child,
        )
        files = {BOARD_CONFIG_FILE.name: args.board_config.to_json()}
        if args.column_rules is not None:
            files[COLUMN_RULES_FILE.name] = json.dumps(args.column_rules, sort_keys=True)
        config = k8s.core.v1.ConfigMap(
            "board-config",
            metadata={"name": "railyard-board", "namespace": ns},
            data=files,
            opts=child,
        )
        labels = {"app.kubernetes.io/name": "railyard-bridge"}
        env = {
            "AWS_REGION": args.aws_region,
            BridgeEnv.EVENTS_QUEUE_URL: queue.url,
            BridgeEnv.EVENTS_DLQ_URL: dlq.url,
            BridgeEnv.CARDS_TABLE: table.name,
            BridgeEnv.EVENTS_TABLE: events.name,
            BridgeEnv.CLOUDWATCH_METRICS: "on",
            BridgeEnv.BOARD: args.board,
            BridgeEnv.BOARD_CONFIG: str(BOARD_CONFIG_FILE),
            BridgeEnv.BOARD_SECRET_FILE: str(BOARD_SECRET_FILE),
            BridgeEnv.PORT: str(METRICS_PORT),
            BridgeEnv.EVENTS_VISIBILITY_SECONDS: str(VISIBILITY_SECONDS),
        }
        if args.column_rules is not None:
            env[BridgeEnv.COLUMN_RULES] = str(COLUMN_RULES_FILE)
        probe = {"httpGet": {"path": "/healthz", "port": METRICS_PORT}, "periodSeconds": 10}
        k8s.apps.v1.Deployment(
            "railyard-bridge",
            metadata={"name": "railyard-bridge", "namespace": ns, "labels": labels},
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(METRICS_PORT),
                            # the bridge reads its files once: a changed board or rules
                            # file rolls the pods (a rotated secret: kubectl rollout restart)
                            "railyard.io/config-sha256": _digest(files),
                        },
                    },
                    "spec": {
                        "serviceAccountName": SERVICE_ACCOUNT,
                        # a poll waits up to 20 s; then the batch in hand is finished
                        "terminationGracePeriodSeconds": 60,
                        "nodeSelector": node_pools.SYSTEM_NODE_LABEL,
                        # replicas on different nodes: one node lost, the feed goes on
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": {"matchLabels": labels},
                            }
                        ],
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security.pod_security_context(),
                        "containers": [
                            {
                                "name": "bridge",
                                "image": args.steps_image,
                                "command": ["railyard-bridge"],
                                "env": [{"name": k, "value": v} for k, v in env.items()],
                                "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
                                "readinessProbe": probe,
                                "livenessProbe": {
                                    **probe,
                                    "initialDelaySeconds": 30,
                                    "failureThreshold": 6,
                                },
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"},
                                },
                                "securityContext": pod_security.container_security_context(),
                                "volumeMounts": [
                                    {
                                        "name": "board",
                                        "mountPath": str(BOARD_FILES_DIR),
                                        "readOnly": True,
                                    },
                                    {
                                        "name": "secret",
                                        "mountPath": str(BOARD_SECRET_FILE.parent),
                                        "readOnly": True,
                                    },
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "board", "configMap": {"name": "railyard-board"}},
                            {"name": "secret", "secret": {"secretName": "railyard-board"}},
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, secret, config]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            "railyard-bridge",
            metadata={"name": "railyard-bridge", "namespace": ns},
            spec={"minAvailable": 1, "selector": {"matchLabels": labels}},
            opts=child,
        )
        self._bridge_network(args, labels, namespace)

    def _bridge_network(self, args: KanbanFeedArgs, labels, namespace) -> None:
        """Metrics from the VPC's scrapers only; out only to DNS, AWS APIs and the board."""
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        board_port = args.board_config.port
        for body in (
            pod_security.allow_ingress(
                "railyard-bridge-metrics", NAMESPACE, labels, METRICS_PORT, args.scrape_cidrs
            ),
            pod_security.restrict_egress(
                "railyard-bridge-egress", NAMESPACE, labels, {HTTPS_PORT, board_port}
            ),
        ):
            network_policy(body["metadata"]["name"], body, after_ns)


def _digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _bridge_policy(queue_arn: str, dlq_arn: str, table_arn: str, events_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                    ],
                    "Resource": queue_arn,
                },
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq_arn},
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                    "Resource": table_arn,
                },
                {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": events_arn},
                put_metrics(metrics.NAMESPACE),
            ],
        }
    )
