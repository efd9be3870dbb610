"""Card state in DynamoDB: one item per feature, written only if its version is unchanged.

DynamoDB because the bridge needs exactly one thing from a store — a conditional write on a
single key — and gets it without a server to run: on-demand, encrypted, point-in-time
recovery, reached through IRSA like every other AWS call of the pipeline.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from railyard_runtime.kanban.cards import Card


class CardStore:
    def __init__(self, dynamodb, table: str):
        self.client = dynamodb
        self.table = table

    def get(self, feature: str) -> Card:
        found = self.client.get_item(
            TableName=self.table, Key={"feature": {"S": feature}}, ConsistentRead=True
        )
        item = found.get("Item")
        return Card.model_validate_json(item["card"]["S"]) if item else Card(feature=feature)

    def put(self, card: Card, read_version: int) -> bool:
        """Write ``card`` if the stored version is still ``read_version``; False if it moved."""
        condition = (
            {"ConditionExpression": "attribute_not_exists(feature)"}
            if read_version == 0
            else {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": str(read_version)}},
            }
        )
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "feature": {"S": card.feature},
                    "version": {"N": str(card.version)},
                    "card": {"S": card.model_dump_json(by_alias=True)},
                },
                **condition,
            )
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
