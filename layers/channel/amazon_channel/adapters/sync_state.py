"""The order sync's lease and state per store, in the orders table (`SyncStateStore`).

Items (table keys `pk`, `sk`):
- lease: `pk=SYNC#<SellerId>`, `sk=LEASE`, `owner`, `expires_at` (ISO-8601 UTC text, which sorts in
  time order). Taken with a conditional put: free, expired, or already ours. Released with a
  conditional delete (only by its owner). A crashed run's lease simply expires.
- state: `pk=SYNC#<SellerId>`, `sk=STATE`, `version`, `doc` (`SyncState` as JSON), written
  conditioned on the version read.
- continuation: `pk=SYNC#<SellerId>`, `sk=CONTINUE`, `due` (ISO-8601 UTC text): when the pending
  continuation of a run the searchOrders quota cut short is due; claimed with a conditional put, so
  one continuation per store is on its way at a time.
- unread: `pk=SYNC#<SellerId>`, `sk=UNREAD`, `newest` (ISO-8601 UTC text): the newest change of an
  order the notification intake could not read at once (`ReadPlans`), raised only, by a conditional
  update.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..domain.clock import normalize
from ..domain.errors import VersionConflict
from ..domain.order_reads import ReadPlan, plan_of
from ..domain.sync_state import SyncState


def _key(seller_id: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": f"SYNC#{seller_id}"}, "sk": {"S": sk}}


def _conditional_failed(e: ClientError) -> bool:
    return e.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoDbSyncState:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def acquire_lease(self, seller_id: str, owner: str, now: str, until: str) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={**_key(seller_id, "LEASE"), "owner": {"S": owner}, "expires_at": {"S": until}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"S": now}, ":me": {"S": owner}},
            )
            return True
        except ClientError as e:
            if _conditional_failed(e):
                return False
            raise

    def release_lease(self, seller_id: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=_key(seller_id, "LEASE"),
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as e:
            if not _conditional_failed(e):
                raise

    def load(self, seller_id: str) -> SyncState | None:
        item = self.client.get_item(TableName=self.table, Key=_key(seller_id, "STATE"), ConsistentRead=True).get("Item")
        return SyncState.model_validate_json(item["doc"]["S"]) if item else None

    def save(self, state: SyncState) -> None:
        condition, values = (
            ("attribute_not_exists(pk)", None)
            if state.version == 1
            else ("version = :expected", {":expected": {"N": str(state.version - 1)}})
        )
        kwargs = {
            "TableName": self.table,
            "Item": {
                **_key(state.seller_id, "STATE"),
                "version": {"N": str(state.version)},
                "doc": {"S": state.model_dump_json()},
            },
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(**kwargs)
        except ClientError as e:
            if _conditional_failed(e):
                raise VersionConflict(f"the order sync state of {state.seller_id} changed concurrently") from None
            raise

    def claim_continuation(self, seller_id: str, now: str, due: str) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={**_key(seller_id, "CONTINUE"), "due": {"S": due}},
                ConditionExpression="attribute_not_exists(pk) OR #due <= :now",
                ExpressionAttributeNames={"#due": "due"},
                ExpressionAttributeValues={":now": {"S": now}},
            )
            return True
        except ClientError as e:
            if _conditional_failed(e):
                return False
            raise

    # ------------------------------------------------------------------ ReadPlans
    def note_unread(self, seller_id: str, changed_at: str) -> None:
        at = normalize(changed_at)
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(seller_id, "UNREAD"),
                UpdateExpression="SET newest = :at",
                ConditionExpression="attribute_not_exists(newest) OR newest < :at",
                ExpressionAttributeValues={":at": {"S": at}},
            )
        except ClientError as e:
            if not _conditional_failed(e):
                raise

    def read_plan(self, seller_id: str) -> ReadPlan:
        unread = self.client.get_item(TableName=self.table, Key=_key(seller_id, "UNREAD")).get("Item")
        return plan_of(self.load(seller_id), unread["newest"]["S"] if unread else None)
