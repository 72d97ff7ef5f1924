"""The channel's AWS messaging adapters: its event bus, its workflow, and its parking queue."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from botocore.exceptions import ClientError

from ..domain.errors import EventsNotDelivered

EVENT_SOURCE = "amazon-channel"


class EventBridgePublisher:
    """`EventPublisher` on the channel's custom bus."""

    def __init__(self, bus_name: str, client: Any) -> None:
        self.bus = bus_name
        self.client = client

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        result = self.client.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self.bus,
                }
            ]
        )
        # PutEvents answers 200 even when it took nothing: a failed entry carries an ErrorCode.
        failed = [e for e in result.get("Entries") or [{}] if e.get("ErrorCode") or not e.get("EventId")]
        if result.get("FailedEntryCount") or failed:
            why = "; ".join(f"{e.get('ErrorCode', 'no EventId')}: {e.get('ErrorMessage', '')}" for e in failed)
            raise EventsNotDelivered(f"EventBridge did not take {detail_type}: {why or result}")


def execution_name(amazon_order_id: str, attempt: int = 0) -> str:
    """One execution per Amazon order and import attempt: a second start with this name is a no-op.

    `mfn-<AmazonOrderId>` for the first import; `mfn-<AmazonOrderId>-retry<n>` for the n-th retry
    of a blocked order (the attempt number is stored on the order before the start).
    """
    name = "mfn-" + re.sub(r"[^A-Za-z0-9_-]", "_", amazon_order_id)[:70]
    suffix = f"-retry{attempt}" if attempt > 0 else ""
    return name[: 80 - len(suffix)] + suffix  # Step Functions allows 80 characters


class StepFunctionsWorkflows:
    """`WorkflowStarter` on the merchant-fulfilled state machine."""

    def __init__(self, state_machine_arn: str | None, client: Any) -> None:
        self.arn = state_machine_arn  # None: this function only wakes workflows (its settings)
        self.client = client

    def start(self, amazon_order_id: str, payload: dict[str, Any], attempt: int = 0) -> bool:
        if self.arn is None:
            raise RuntimeError("this function's settings have no MFN_STATE_MACHINE_ARN: it cannot start a workflow")
        try:
            self.client.start_execution(
                stateMachineArn=self.arn,
                name=execution_name(amazon_order_id, attempt),
                input=json.dumps(payload, sort_keys=True),
            )
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps(output))
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] in ("TaskDoesNotExist", "InvalidToken", "TaskTimedOut"):
                return False
            raise


class SqsParking:
    """`NotificationParking`: the message goes to a dead-letter queue with its reason attached."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self.queue_url = queue_url
        self.client = client

    def park(self, body: str, reason: str, source: str, field: str | None = None) -> None:
        attributes = {
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "source": {"DataType": "String", "StringValue": source},
        }
        if field:
            attributes["field"] = {"DataType": "String", "StringValue": field[:256]}
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)


#: SQS: the longest DelaySeconds of one message; a longer deferral is made of several hops
MAX_DELAY_SECONDS = 900


class SqsDeferrals:
    """`NotificationDeferrals`: a notification put back on its own queue for a while.

    Sent again with `DelaySeconds` (the delivery in hand is then deleted, reported as done), not
    made invisible with ChangeMessageVisibility: SQS counts every receive of a message toward the
    queue's maxReceiveCount, whatever made it visible again, so a message deferred five times would
    land in the dead-letter queue. A copy starts with a receive count of zero. If the send fails,
    the delivery is reported failed and SQS delivers it again: nothing is lost; a copy sent twice
    is applied once (the intake is idempotent per NotificationId and per order).
    """

    def __init__(self, queue_url: str, client: Any) -> None:
        self.queue_url = queue_url
        self.client = client

    def defer(self, body: str, seconds: float, attributes: dict[str, str]) -> int:
        delay = max(0, min(MAX_DELAY_SECONDS, math.ceil(seconds)))
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            DelaySeconds=delay,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        return delay


class SqsSyncContinuations:
    """`SyncContinuations`: a delayed `{"trigger": "continue", "seller_id": ...}` on the order sync's
    continuation queue, whose event source mapping runs the sync for that store."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self.queue_url = queue_url
        self.client = client

    def continue_later(self, seller_id: str, seconds: float) -> int:
        delay = max(0, min(MAX_DELAY_SECONDS, math.ceil(seconds)))
        body = json.dumps({"trigger": "continue", "seller_id": seller_id})
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=delay)
        return delay
