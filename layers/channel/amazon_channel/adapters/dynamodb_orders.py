"""Channel orders in DynamoDB: one state item per order, versioned, and append-only history items.

Item layout (table keys `pk`, `sk`):
- state: `pk=ORDER#<AmazonOrderId>`, `sk=STATE`, `version` (number), `doc` (the order as JSON),
  `channel_status`, and, only while the order is visible in the Orders view,
  `view_pk=STORE#<SellerId>` / `view_sk=<purchase date>#<AmazonOrderId>` (the `OrdersView` index);
  also the Orders view's row columns and `status_pk`/`status_sk` (`OrdersByStatus`), see
  `dynamodb_order_queries`.
- history: `pk=ORDER#<AmazonOrderId>`, `sk=HISTORY#<at>#<n>`, written with `attribute_not_exists`,
  never updated.
- blocked mark: `pk=BLOCKED#<SellerId>`, `sk=<AmazonOrderId>`, `attempt` (the import attempt that
  failed), written with every state write of an order in `Error` that has no Commerce order (it
  could not be imported); the order sync lists a store's marks to retry them and drops a mark
  (conditioned on its attempt) once the order has moved on.
- to-confirm mark: `pk=TOCONFIRM#<SellerId>`, `sk=<AmazonOrderId>`, `shipments` (how many
  Commerce shipments the order had), written with every state write of an order that has a
  Commerce shipment not yet confirmed to Amazon; the order sync's sweep lists a store's marks to
  finish them and drops a mark (conditioned on `shipments`) once all are confirmed.
- retention entry: `pk=PII_DUE`, `sk=<ended at>#<AmazonOrderId>`, written with every state write of
  an ended order (Shipped, Canceled) that still holds buyer data; the daily retention run reads the
  entries older than the retention period and removes the buyer data (`dynamodb_retention`). One
  partition: a few writes per ended order, far below a partition's 1,000 writes a second.
Every state write is a transaction: the state conditioned on the version read, plus the history.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.exceptions import ClientError

from ..domain.clock import now_iso
from ..domain.errors import VersionConflict
from ..domain.models import ChannelOrder, ChannelStatus, HistoryEntry
from ..domain.pii import holds_pii, note_ending
from .dynamodb_order_queries import order_view_attributes

RETENTION_PK = "PII_DUE"


def _pk(amazon_order_id: str) -> str:
    return f"ORDER#{amazon_order_id}"


def _state_item(order: ChannelOrder) -> dict[str, Any]:
    """The order's state item: the document, its version, and the keys the indexes read."""
    state = {
        "pk": {"S": _pk(order.amazon_order_id)},
        "sk": {"S": "STATE"},
        "version": {"N": str(order.version)},
        "doc": {"S": order.model_dump_json()},
        "channel_status": {"S": order.channel_status.value},
        "amazon_status": {"S": order.amazon_status.value},
        "updated_at": {"S": order.updated_at},
        **order_view_attributes(order),  # the Orders view's columns and its OrdersByStatus keys
    }
    if order.visible:
        state["view_pk"] = {"S": f"STORE#{order.seller_id}"}
        state["view_sk"] = {"S": f"{order.purchase_date or order.created_at}#{order.amazon_order_id}"}
    return state


def _markers(order: ChannelOrder) -> list[dict[str, Any]]:
    """The store's lists the order belongs on: blocked (to retry), shipments to confirm, personal data to remove."""
    markers = []
    if order.channel_status == ChannelStatus.ERROR and order.commerce is None:
        markers.append(
            {
                "pk": {"S": f"BLOCKED#{order.seller_id}"},
                "sk": {"S": order.amazon_order_id},
                "attempt": {"N": str(order.import_attempt)},
            }
        )
    if order.to_confirm:
        markers.append(
            {
                "pk": {"S": f"TOCONFIRM#{order.seller_id}"},
                "sk": {"S": order.amazon_order_id},
                "shipments": {"N": str(len(order.shipments))},
            }
        )
    if order.ended_at and holds_pii(order):
        markers.append(
            {
                "pk": {"S": RETENTION_PK},
                "sk": {"S": f"{order.ended_at}#{order.amazon_order_id}"},
                "amazon_order_id": {"S": order.amazon_order_id},
            }
        )
    return markers


class DynamoDbOrderStore:
    """`OrderStore` on a DynamoDB table, through a low-level boto3 client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def get(self, amazon_order_id: str) -> ChannelOrder | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": _pk(amazon_order_id)}, "sk": {"S": "STATE"}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return ChannelOrder.model_validate_json(item["doc"]["S"])

    def put_new(self, order: ChannelOrder, history: list[HistoryEntry]) -> bool:
        try:
            self._write(order, history, condition="attribute_not_exists(pk)", values=None)
            return True
        except VersionConflict:
            return False

    def save(self, order: ChannelOrder, history: list[HistoryEntry]) -> None:
        self._write(
            order,
            history,
            condition="version = :expected",
            values={":expected": {"N": str(order.version - 1)}},
        )

    def append_history(self, amazon_order_id: str, entries: list[HistoryEntry]) -> None:
        if not entries:
            return
        self.client.transact_write_items(TransactItems=[self._history_put(amazon_order_id, e) for e in entries])

    def history(self, amazon_order_id: str) -> list[HistoryEntry]:
        entries: list[HistoryEntry] = []
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :h)",
            "ExpressionAttributeValues": {":pk": {"S": _pk(amazon_order_id)}, ":h": {"S": "HISTORY#"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            entries += [HistoryEntry.model_validate_json(i["doc"]["S"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return entries
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _write(
        self, order: ChannelOrder, history: list[HistoryEntry], condition: str, values: dict[str, Any] | None
    ) -> None:
        """The order's state, its new history entries and its markers, in one transaction."""
        note_ending(order, order.updated_at or order.created_at or now_iso())
        put: dict[str, Any] = {"TableName": self.table, "Item": _state_item(order), "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        items = [
            {"Put": put},
            *(self._history_put(order.amazon_order_id, e) for e in history),
            *({"Put": {"TableName": self.table, "Item": marker}} for marker in _markers(order)),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as e:
            code = e.response["Error"]["Code"]
            reasons = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
            if code == "ConditionalCheckFailedException" or "ConditionalCheckFailed" in reasons:
                raise VersionConflict(f"order {order.amazon_order_id} changed concurrently") from None
            if code == "TransactionCanceledException":
                raise VersionConflict(f"order {order.amazon_order_id}: transaction canceled {reasons}") from None
            raise

    def blocked(self, seller_id: str) -> list[tuple[str, int]]:
        """`BlockedOrders`: the store's orders marked blocked, with the attempt that failed."""
        out: list[tuple[str, int]] = []
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"BLOCKED#{seller_id}"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            out += [(i["sk"]["S"], int(i["attempt"]["N"])) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget_blocked(self, seller_id: str, amazon_order_id: str, attempt: int) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"pk": {"S": f"BLOCKED#{seller_id}"}, "sk": {"S": amazon_order_id}},
                ConditionExpression="attempt = :a",
                ExpressionAttributeValues={":a": {"N": str(attempt)}},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def to_confirm(self, seller_id: str) -> list[tuple[str, int]]:
        """`ShipmentsToConfirm`: the store's orders marked as having a shipment Amazon lacks."""
        out: list[tuple[str, int]] = []
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"TOCONFIRM#{seller_id}"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            out += [(i["sk"]["S"], int(i["shipments"]["N"])) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget_to_confirm(self, seller_id: str, amazon_order_id: str, shipments: int) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"pk": {"S": f"TOCONFIRM#{seller_id}"}, "sk": {"S": amazon_order_id}},
                ConditionExpression="shipments = :n",
                ExpressionAttributeValues={":n": {"N": str(shipments)}},
            )
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _history_put(self, amazon_order_id: str, e: HistoryEntry) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": _pk(amazon_order_id)},
                    "sk": {"S": f"HISTORY#{e.at}#{uuid.uuid4().hex[:8]}"},
                    "kind": {"S": e.kind},
                    "doc": {"S": e.model_dump_json()},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
