"""The orders page's adapters on AWS: the sync's retry (Lambda), dead-letter queues (SQS and
CloudWatch), a one-time claim per action (DynamoDB), and the Health page's reads.

Action claims are items `id=page-action#<action id>` in the idempotency table, put only if absent
and expiring after a day (the table's `expiration` TTL), so a second click of the same form finds
its action already done.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.models import ChannelStatus
from ..domain.orders_page import PageReads
from ..domain.ports import StoreDirectory, SyncStateStore
from ..domain.sync_state import SyncState

CLAIM_TTL_SECONDS = 86400
SP_API_OPERATIONS = ("searchOrders", "getOrder", "confirmShipment")


class LambdaOrderRetries:
    """`OrderRetries`: invokes the order sync with `{"trigger": "retry", ...}`, as an operator would."""

    def __init__(self, function_name: str, client: Any) -> None:
        self.function = function_name
        self.client = client

    def retry(self, amazon_order_id: str) -> dict[str, Any]:
        answer = self.client.invoke(
            FunctionName=self.function,
            Payload=json.dumps({"trigger": "retry", "amazon_order_id": amazon_order_id}).encode(),
        )
        payload: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            return {"result": "failed", "reason": payload.get("errorMessage", "the order sync failed")}
        return payload


class DynamoDbActionLog:
    """`ActionLog`: a conditional put per action id."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def claim(self, action_id: str, what: str, user: str) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": f"page-action#{action_id}"},
                    "what": {"S": what},
                    "user": {"S": user},
                    "expiration": {"N": str(int(time.time()) + CLAIM_TTL_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False


class SqsDeadLetters:
    """`DeadLetters`: `queues` maps a name to (dead-letter queue URL, source queue URL)."""

    def __init__(self, queues: dict[str, tuple[str, str]], sqs: Any, cloudwatch: Any) -> None:
        self.queues = queues
        self.sqs = sqs
        self.cloudwatch = cloudwatch

    def names(self) -> list[str]:
        return sorted(self.queues)

    def depth(self, name: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[name][0], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    def oldest_age_seconds(self, name: str) -> float | None:
        """SQS's `ApproximateAgeOfOldestMessage` metric, the last five minutes' maximum."""
        now = datetime.now(UTC)
        points = self.cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": self.queues[name][0].rstrip("/").rsplit("/", 1)[-1]}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        ).get("Datapoints", [])
        return max((p["Maximum"] for p in points), default=None)

    def redrive(self, name: str) -> int:
        """Receive, send to the source queue with the same body and attributes, delete; as many as
        the queue held when asked. Not "until empty": input that is still bad is parked again at
        once (the notifications' dead-letter queue is also where the intake parks), and would be
        moved round and round until the function timed out."""
        dlq, source = self.queues[name]
        moved, held = 0, self.depth(name)
        while moved < held:
            messages = self.sqs.receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=min(10, held - moved),
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for m in messages:
                self.sqs.send_message(QueueUrl=source, MessageBody=m["Body"], **_attributes(m))
                self.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        return moved


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    attrs = {
        k: {kk: vv for kk, vv in v.items() if kk in ("DataType", "StringValue", "BinaryValue")}
        for k, v in (message.get("MessageAttributes") or {}).items()
    }
    return {"MessageAttributes": attrs} if attrs else {}


class DynamoDbHealthReads:
    """`HealthReads` on the stores and orders tables."""

    def __init__(
        self, stores: StoreDirectory, sync_state: SyncStateStore, queries: PageReads, orders_table: str, client: Any
    ) -> None:
        self._stores = stores
        self._sync_state = sync_state
        self.queries = queries
        self.table = orders_table
        self.client = client

    def stores(self) -> list[tuple[str, list[str]]]:
        return [(s.seller_id, s.marketplace_ids) for s in self._stores.connected()]

    def sync_state(self, seller_id: str) -> SyncState | None:
        return self._sync_state.load(seller_id)

    def count(self, seller_id: str, status: ChannelStatus) -> int:
        return self.queries.count(seller_id, status)

    def quota(self, seller_id: str) -> dict[str, str]:
        """Calls left in the shared rate budget per operation, as last written (refill not applied)."""
        out = {}
        for op in SP_API_OPERATIONS:
            item = self.client.get_item(
                TableName=self.table, Key={"pk": {"S": f"RATE#{seller_id}#{op}"}, "sk": {"S": "BUDGET"}}
            ).get("Item")
            if item:
                left = float(item["tokens"]["N"])
                at = datetime.fromtimestamp(float(item["refilled_at"]["N"]), UTC).strftime("%H:%M:%S UTC")
                out[op] = f"{left:.1f} left at {at}"
            else:
                out[op] = "unused"
        return out
