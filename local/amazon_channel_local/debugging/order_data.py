"""Reading one order's records from a stack: its state, history, kept notifications, its store,
its workflow execution, and the archived bus events that concern it."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from amazon_channel.adapters.aws_messaging import execution_name
from amazon_channel.adapters.dynamodb_notifications import DynamoDbNotifications
from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore
from amazon_channel.domain import commerce_events
from amazon_channel.domain.models import ChannelOrder, HistoryEntry
from amazon_channel.domain.notifications import NotificationRecord

from .errors import InvalidInput
from .handle import StackHandle
from .times import iso
from .topology import Bus, buses

ORDER_ID_HELP = "an Amazon order number such as 113-1234567-1234567"


@dataclass
class OrderRecords:
    amazon_order_id: str
    state: ChannelOrder | None
    history: list[HistoryEntry]
    notifications: list[NotificationRecord]
    store: dict | None = None  # the store's configuration (seller, marketplaces, settings)
    execution: dict | None = None  # DescribeExecution of mfn-<order id>, when there is one
    bus_events: list[dict] = field(default_factory=list)

    @property
    def seller_id(self) -> str | None:
        if self.state is not None:
            return self.state.seller_id
        for e in self.notifications:
            body = e.body or {}
            seller = ((body.get("Payload") or {}).get("OrderChangeNotification") or {}).get("SellerId")
            if seller:
                return seller
        return None

    def window(self) -> tuple[datetime, datetime] | None:
        """From a little before the order's first record to a little after its last one."""
        times = [e.at for e in self.history] + [e.at for e in self.notifications]
        if self.state is not None:
            times += [t for t in (self.state.created_at, self.state.updated_at) if t]
        if not times:
            return None
        first = _dt(min(times)) - timedelta(minutes=5)
        last = min(_dt(max(times)) + timedelta(minutes=5), datetime.now(UTC))
        return first, max(last, first + timedelta(seconds=1))


def read_order(
    handle: StackHandle,
    amazon_order_id: str,
    *,
    with_bus_events: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> OrderRecords:
    """Everything the stack holds about one order. Raises `InvalidInput` when it holds nothing."""
    table, ddb = handle.need("OrdersTable"), handle.client("dynamodb")
    store = DynamoDbOrderStore(table, ddb)
    records = OrderRecords(
        amazon_order_id=amazon_order_id,
        state=store.get(amazon_order_id),
        history=sorted(store.history(amazon_order_id), key=lambda e: e.at),
        notifications=sorted(DynamoDbNotifications(table, ddb).kept(amazon_order_id), key=lambda e: e.at),
    )
    if records.state is None and not records.history and not records.notifications:
        raise InvalidInput(f"{handle.label} has no order {amazon_order_id}")
    records.store = store_config(handle, records.seller_id)
    records.execution = describe_execution(handle, amazon_order_id)
    if with_bus_events:
        window = records.window()
        if window is not None:
            records.bus_events = archived_events(
                handle, *window, matcher=order_matcher(records), on_progress=on_progress
            )
    return records


def store_config(handle: StackHandle, seller_id: str | None) -> dict | None:
    if not seller_id or "StoresTable" not in handle.resources:
        return None
    item = (
        handle.client("dynamodb")
        .get_item(TableName=handle.need("StoresTable"), Key={"id": {"S": seller_id}})
        .get("Item")
    )
    if not item or "value" not in item:
        return None
    if "S" in item["value"]:
        return json.loads(item["value"]["S"])
    from boto3.dynamodb.types import TypeDeserializer  # the value stored as a map

    value = TypeDeserializer().deserialize(item["value"])
    return json.loads(json.dumps(value, default=lambda d: int(d) if d == int(d) else float(d)))


def execution_arn(handle: StackHandle, amazon_order_id: str) -> str | None:
    machine = handle.resources.get("MfnOrderStateMachine")
    if not machine or ":stateMachine:" not in machine:
        return None
    return machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(amazon_order_id)


def describe_execution(handle: StackHandle, amazon_order_id: str) -> dict | None:
    arn = execution_arn(handle, amazon_order_id)
    if arn is None:
        return None
    from botocore.exceptions import ClientError

    try:
        d = handle.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as e:
        if e.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound", "StateMachineDoesNotExist"):
            return None
        raise
    return {
        "executionArn": arn,
        "name": d.get("name"),
        "status": d.get("status"),
        "startDate": iso(d.get("startDate")),
        "stopDate": iso(d.get("stopDate")),
        "error": d.get("error"),
        "cause": d.get("cause"),
    }


def execution_history(handle: StackHandle, amazon_order_id: str) -> list[dict]:
    arn = execution_arn(handle, amazon_order_id)
    if arn is None or describe_execution(handle, amazon_order_id) is None:
        return []
    sfn = handle.client("stepfunctions")
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return events


# -- archived bus events ------------------------------------------------------------------------
def order_matcher(records: OrderRecords) -> Callable[[dict], bool]:
    """Whether an EventBridge event concerns the order: a channel event naming it, or a Commerce
    shipment event of its Commerce order."""
    oid = records.amazon_order_id
    commerce_id = records.state.commerce.order_id if records.state and records.state.commerce else None

    def matches(event: dict) -> bool:
        detail = event.get("detail") or {}
        if not isinstance(detail, dict):
            return False
        if detail.get("amazon_order_id") == oid:
            return True
        value = commerce_events.ids(detail)  # wherever Adobe I/O Events put the payload
        return commerce_id is not None and str(value.get("order_id")) == str(commerce_id)

    return matches


def archived_events(
    handle: StackHandle,
    start: datetime,
    end: datetime,
    matcher: Callable[[dict], bool],
    *,
    on_progress: Callable[[str], None] | None = None,
    timeout: float = 900,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict]:
    """The archived events of a time window that `matcher` accepts, from every archive of the stack.

    EventBridge has no API that reads an archive, so each archive is replayed to a private rule
    (matching only this replay's `replay-name`) whose target is a private queue; the replay's
    FilterArns name only that rule, so the stack's own rules and handlers see nothing. The rule
    and the queue are deleted afterwards.
    """
    out: list[dict] = []
    for bus in buses(handle):
        if bus.archive_arn:
            out += _replay_to_private_queue(
                handle, bus, start, end, on_progress=on_progress, timeout=timeout, sleep=sleep
            )
    found = [e for e in out if matcher(e)]
    for e in found:
        e.pop("replay-name", None)
    return sorted(found, key=lambda e: iso(e.get("time")) or "")  # (EventBridge times are to the second)


def _replay_to_private_queue(
    handle: StackHandle, bus: Bus, start: datetime, end: datetime, *, on_progress, timeout: float, sleep
) -> list[dict]:
    events, sqs = handle.client("events"), handle.client("sqs")
    name = f"amazon-channel-export-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    if on_progress:
        on_progress(f"reading archive {bus.archive_name} ({iso(start)} to {iso(end)})")
    queue_url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "3600"})["QueueUrl"]
    rule_arn = None
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn = events.put_rule(
            Name=name,
            EventBusName=bus.name,
            State="ENABLED",
            Description="amazon-channel export (temporary)",
            EventPattern=json.dumps({"replay-name": [name]}),
        )["RuleArn"]
        sqs.set_queue_attributes(
            QueueUrl=queue_url,
            Attributes={
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": queue_arn,
                                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                            }
                        ],
                    }
                )
            },
        )
        events.put_targets(Rule=name, EventBusName=bus.name, Targets=[{"Id": "export", "Arn": queue_arn}])
        events.start_replay(
            ReplayName=name,
            EventSourceArn=bus.archive_arn,
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": bus.arn, "FilterArns": [rule_arn]},
            Description="amazon-channel export: read the archive",
        )
        deadline = time.monotonic() + timeout
        while True:
            d = events.describe_replay(ReplayName=name)
            if d.get("State") in ("COMPLETED", "FAILED", "CANCELLED"):
                if d["State"] != "COMPLETED":
                    raise RuntimeError(f"archive replay {name} ended {d['State']}: {d.get('StateReason', '')}")
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"archive replay {name} still {d.get('State')} after {timeout:.0f}s")
            sleep(2)
        return _drain(sqs, queue_url, local=handle.kind != "aws")
    finally:
        _cleanup(events, sqs, bus=bus.name, name=name, rule_arn=rule_arn, queue_url=queue_url)


def _drain(sqs: Any, url: str, *, local: bool) -> list[dict]:
    """Every message of the private queue (deliveries lag the replay's end a little on AWS)."""
    out, empty = [], 0
    while empty < (1 if local else 3):
        msgs = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if local else 5, VisibilityTimeout=300
        ).get("Messages", [])
        if not msgs:
            empty += 1
            continue
        empty = 0
        for m in msgs:
            try:
                out.append(json.loads(m["Body"]))
            except ValueError:
                continue
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        )
    return out


def _cleanup(events: Any, sqs: Any, *, bus: str, name: str, rule_arn: str | None, queue_url: str) -> None:
    import contextlib

    if rule_arn:
        with contextlib.suppress(Exception):
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["export"])
        with contextlib.suppress(Exception):
            events.delete_rule(Name=name, EventBusName=bus)
    with contextlib.suppress(Exception):
        sqs.delete_queue(QueueUrl=queue_url)


def _dt(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
