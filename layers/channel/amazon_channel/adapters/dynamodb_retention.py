"""`RetentionLedger` on the orders table (see `domain.pii`).

- The ledger: `pk=PII_DUE`, `sk=<ended at>#<AmazonOrderId>`, written by the order store with each
  state write of an ended order that holds buyer data. `due` is a Query with `sk < cutoff`: no Scan,
  and a day the run missed is caught up by the next.
- Kept documents: every item of the order's partition but its state (`HISTORY#`, `INBOUND#`, ...)
  whose `doc` holds personal data is rewritten without it, conditioned on the item still being
  there and on its `doc` being the one read (a put never recreates or clobbers anything).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..domain.pii import strip
from .dynamodb_orders import RETENTION_PK


class DynamoDbRetentionLedger:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def due(self, ended_before: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk < :cutoff",
            "ExpressionAttributeValues": {":pk": {"S": RETENTION_PK}, ":cutoff": {"S": ended_before}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                ended_at, _, amazon_order_id = item["sk"]["S"].rpartition("#")
                out.append((ended_at, amazon_order_id))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, ended_at: str, amazon_order_id: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key={"pk": {"S": RETENTION_PK}, "sk": {"S": f"{ended_at}#{amazon_order_id}"}}
        )

    def strip_kept_documents(self, amazon_order_id: str) -> int:
        changed = 0
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"ORDER#{amazon_order_id}"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                if item["sk"]["S"] == "STATE" or "doc" not in item:
                    continue  # the state is changed by the order store, versioned
                if self._strip(item):
                    changed += 1
            if "LastEvaluatedKey" not in page:
                return changed
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _strip(self, item: dict[str, Any]) -> bool:
        doc, removed = strip(json.loads(item["doc"]["S"]))
        if not removed:
            return False
        try:
            self.client.put_item(
                TableName=self.table,
                Item={**item, "doc": {"S": json.dumps(doc, separators=(",", ":"))}},
                ConditionExpression="attribute_exists(pk) AND #doc = :read",
                ExpressionAttributeNames={"#doc": "doc"},
                ExpressionAttributeValues={":read": item["doc"]},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False  # rewritten by a concurrent run meanwhile
        return True
