"""Kept notifications and replayed-event receipts, in the orders table.

Item layout (table keys `pk`, `sk`, beside the order's state and history items):
- inbound: `pk=ORDER#<AmazonOrderId>`, `sk=INBOUND#<received at>#<n>`, `kind` (amazon | commerce),
  `doc` (an `NotificationRecord` as JSON). Written once, never updated. `history()` does not read them.
- replay receipt: `pk=REPLAY#<replay name>`, `sk=EVENT#<handler>#<event id>`, `doc` (JSON: handler,
  detail type, result, order id, at). One per replayed event and handler: a redelivery overwrites
  its own receipt, so counting receipts counts events. A few hundred bytes each, kept.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..domain.notifications import NotificationRecord


def _pk(amazon_order_id: str) -> str:
    return f"ORDER#{amazon_order_id}"


class DynamoDbNotifications:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    # -- notifications ----------------------------------------------------------------------
    def keep(self, amazon_order_id: str, event: NotificationRecord) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": _pk(amazon_order_id)},
                "sk": {"S": f"INBOUND#{event.at}#{uuid.uuid4().hex[:8]}"},
                "kind": {"S": event.source},
                "doc": {"S": event.model_dump_json()},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def kept(self, amazon_order_id: str) -> list[NotificationRecord]:
        """The order's kept notifications, oldest first."""
        return [
            NotificationRecord.model_validate_json(i["doc"]["S"]) for i in self._query(_pk(amazon_order_id), "INBOUND#")
        ]

    # -- replayed events ---------------------------------------------------------------------
    def record_replayed(
        self,
        replay_name: str,
        *,
        handler: str,
        event_id: str,
        detail_type: str | None,
        result: str,
        amazon_order_id: str | None,
        at: str,
    ) -> None:
        doc = {
            "handler": handler,
            "event_id": event_id,
            "detail_type": detail_type,
            "result": result,
            "amazon_order_id": amazon_order_id,
            "at": at,
        }
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"REPLAY#{replay_name}"},
                "sk": {"S": f"EVENT#{handler}#{event_id}"},
                "doc": {"S": json.dumps(doc)},
            },
        )

    def replayed(self, replay_name: str) -> list[dict[str, Any]]:
        """Receipts of the events a replay delivered to the stack's handlers."""
        return [json.loads(i["doc"]["S"]) for i in self._query(f"REPLAY#{replay_name}", "EVENT#")]

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
