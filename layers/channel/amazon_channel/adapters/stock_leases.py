"""Per-SKU leases serializing the channel's moves of a product's out-of-stock threshold (`StockLeases`).

Magento has no atomic way to add to a stock item's `min_qty` over REST (the channel reads it and
writes the new value), so two functions holding units of the same SKU at once could lose one
hold. The channel's own moves are therefore taken one at a time per SKU under a short lease, and
the move in flight is written on the lease first: a holder that dies mid-move leaves it there,
and the next holder finishes it before doing its own.

Item in the orders table (keys `pk`, `sk`): `pk=STOCK#<sku>`, `sk=LEASE`, `owner`, `expires_at`
(ISO-8601 UTC text, which sorts in time order), `pending` (the move in flight, JSON text).
Taken with a conditional update (free, expired, or already ours); given up by removing the owner
(only by its owner), the pending move kept.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


def _key(sku: str) -> dict[str, Any]:
    return {"pk": {"S": f"STOCK#{sku}"}, "sk": {"S": "LEASE"}}


def _conditional_failed(e: ClientError) -> bool:
    return e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDbStockLeases:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def acquire(self, sku: str, owner: str, now: str, until: str) -> bool:
        from botocore.exceptions import ClientError  # not at import: the in-memory twin needs none

        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(sku),
                UpdateExpression="SET #owner = :me, expires_at = :until",
                ConditionExpression="attribute_not_exists(#owner) OR expires_at < :now OR #owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}, ":until": {"S": until}, ":now": {"S": now}},
            )
            return True
        except ClientError as e:
            if _conditional_failed(e):
                return False
            raise

    def pending(self, sku: str) -> str | None:
        item = self.client.get_item(TableName=self.table, Key=_key(sku), ConsistentRead=True).get("Item") or {}
        return item["pending"]["S"] if "pending" in item else None

    def set_pending(self, sku: str, owner: str, move: str | None) -> None:
        kwargs: dict[str, Any] = {"UpdateExpression": "REMOVE pending"}
        values = {":me": {"S": owner}}
        if move is not None:
            kwargs["UpdateExpression"] = "SET pending = :move"
            values[":move"] = {"S": move}
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(sku),
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=values,
                **kwargs,
            )
        except ClientError as e:
            if _conditional_failed(e):
                raise LeaseLost(f"the stock lease of {sku} expired and was taken by another function") from None
            raise

    def release(self, sku: str, owner: str) -> None:
        from botocore.exceptions import ClientError  # not at import: the in-memory twin needs none

        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(sku),
                UpdateExpression="REMOVE #owner, expires_at",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as e:
            if not _conditional_failed(e):
                raise


class LeaseLost(RuntimeError):
    """The lease expired under its holder and another took it: the move must not go on."""


class InMemoryStockLeases:
    """The same leases within one process (unit tests, and a client built without a table)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}

    def acquire(self, sku: str, owner: str, now: str, until: str) -> bool:
        with self._lock:
            item = self._items.setdefault(sku, {})
            if item.get("owner") not in (None, owner) and item.get("expires_at", "") >= now:
                return False
            item.update(owner=owner, expires_at=until)
            return True

    def pending(self, sku: str) -> str | None:
        with self._lock:
            return self._items.get(sku, {}).get("pending")

    def set_pending(self, sku: str, owner: str, move: str | None) -> None:
        with self._lock:
            item = self._items.get(sku, {})
            if item.get("owner") != owner:
                raise LeaseLost(f"the stock lease of {sku} expired and was taken by another function")
            if move is None:
                item.pop("pending", None)
            else:
                item["pending"] = move

    def release(self, sku: str, owner: str) -> None:
        with self._lock:
            item = self._items.get(sku, {})
            if item.get("owner") == owner:
                item.pop("owner", None)
                item.pop("expires_at", None)
