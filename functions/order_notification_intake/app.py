"""Order notification intake: Amazon's ORDER_CHANGE notifications from SQS into the channel.

A batch is processed record by record with partial batch responses: a transient failure (a
conflict, AWS refusing a call) returns that record to the queue, to be retried and, after
maxReceiveCount, moved to the dead-letter queue. A paid merchant-fulfilled order's details are
then read (getOrder) or left to the order sync (`domain.order_reads`); when getOrder's quota has
no token now, the notification is deferred: sent again to its queue with a delay, never waited for,
and never counted as a failure. A message that can never succeed (malformed,
unknown type or status, unconnected store, oversized) is parked in the dead-letter queue at once
with its reason, and the rest of the batch goes on.
"""

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import notifications, runtime
from amazon_channel.contracts import OrderChangeNotification, parse_notification
from amazon_channel.domain import clock
from amazon_channel.domain.clock import now_iso
from amazon_channel.domain.errors import PermanentError
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.order_reads import Deferred, ReadDone, ReadSettings, read_order_details
from amazon_channel.settings import (
    AmazonSettings,
    EventsSettings,
    IdempotencySettings,
    NotificationDeferralSettings,
    ParkingSettings,
    StoresSettings,
    WorkflowStartSettings,
)

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics
# One getOrder with the intake's client (one attempt, SP_API_READ_TIMEOUT_SECONDS) and the re-send
# of a deferred notification fit in this much of the invocation's remaining time.
READ_NEEDS_MS = 9_000


class Settings(
    StoresSettings,
    IdempotencySettings,
    WorkflowStartSettings,
    EventsSettings,
    ParkingSettings,
    AmazonSettings,
    NotificationDeferralSettings,
):
    """The intake: stores, idempotency, the MFN workflow, the bus (FBA orders), its dead-letter queue;
    getOrder, and its own queue for notifications whose read waits for the quota."""


settings = Settings.from_environment()
_read_settings = ReadSettings(sync_interval_seconds=60.0 * settings.order_sync_interval_minutes)
processor = BatchProcessor(event_type=EventType.SQS)
_idempotency = IdempotencyConfig(
    event_key_jmespath="NotificationMetadata.NotificationId", expires_after_seconds=7 * 24 * 3600
)


def _record(notification: OrderChangeNotification, body: str | None = None) -> dict[str, Any]:
    ports = runtime.ports(settings)
    received_at = now_iso()
    change = notification.to_order_change()
    outcome = record_order_change(
        change,
        IntakePorts(
            orders=ports.orders, stores=ports.stores, workflows=ports.workflows, events=ports.events, details_first=True
        ),
    )
    if body is not None:  # kept as received, beside the order (amazon-channel export / trace)
        notifications.keep_notification(change, body, received_at)
    return {
        "result": outcome.result,
        "channel_status": outcome.channel_status,
        "workflow_started": outcome.workflow_started,
    }


def _record_notification_once(notification: OrderChangeNotification, body: str | None = None) -> dict[str, Any]:
    """Each NotificationId is applied once; a redelivery returns the first outcome."""
    outcome: dict[str, Any] = _record_once()(notification=notification, body=body)
    return outcome


@functools.cache
def _record_once() -> Callable[..., Any]:
    """The idempotent record, made on first use: its persistence store's client is created then."""
    once: Callable[..., Any] = idempotent_function(
        data_keyword_argument="notification", persistence_store=runtime.idempotency_store(settings), config=_idempotency
    )(_record)
    return once


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any] | None:
    attributes: Any = record.message_attributes  # SQSMessageAttributes.get answers the raw attribute dict
    replay = (attributes.get("replay-name") or {}).get("stringValue") if attributes else None
    try:
        notification = parse_notification(record.body)
        outcome = _record_notification_once(notification=notification, body=record.body)
    except PermanentError as e:
        runtime.park_bad_input(settings, record.body, e, source="order-notifications", message_id=record.message_id)
        return None
    time_left_ms = lambda_context.get_remaining_time_in_millis() if lambda_context else None
    outcome["read"] = _read_or_defer(
        record, notification.Payload.OrderChangeNotification.AmazonOrderId, replay, time_left_ms
    )
    logger.info(
        "Notification applied",
        extra={
            "amazon_order_id": notification.Payload.OrderChangeNotification.AmazonOrderId,
            "status": notification.Payload.OrderChangeNotification.Summary.OrderStatus,
            "replay": replay,
            **outcome,
        },
    )
    metrics.add_metric(name="NotificationsApplied", unit=MetricUnit.Count, value=1)
    return outcome


def _read_or_defer(record: SQSRecord, amazon_order_id: str, replay: str | None, time_left_ms: int | None) -> str:
    """Read the order's details now, or put the notification back on the queue until its turn."""
    attributes = {k: v.get("stringValue") or "" for k, v in (record.message_attributes or {}).items()}
    slot_at = float(attributes["read-slot-at"]) if attributes.get("read-slot-at") else None
    settled = bool(attributes.get("read-settled"))
    if time_left_ms is not None and time_left_ms < READ_NEEDS_MS:
        # A read now could outlive the invocation: a timeout returns the whole batch and counts a
        # receive against every record (maxReceiveCount). The notification comes back at once.
        read: ReadDone | Deferred = Deferred(
            1.0, "the invocation's time is nearly up", slot_at=slot_at, settled=settled
        )
    else:
        read = read_order_details(
            amazon_order_id,
            runtime.read_ports(settings),
            clock.now().timestamp(),
            _read_settings,
            slot_at=slot_at,
            settled=settled,
        )
    if not isinstance(read, Deferred):
        return read.result
    again = {"read-settled": "1"} if read.settled else {}
    if read.slot_at is not None:
        again["read-slot-at"] = f"{read.slot_at:.3f}"
    if replay:
        again["replay-name"] = replay
    delay = runtime.deferrals(settings).defer(record.body, read.seconds, again)
    logger.info(
        "Notification deferred", extra={"amazon_order_id": amazon_order_id, "seconds": delay, "why": read.reason}
    )
    metrics.add_metric(name="NotificationsDeferred", unit=MetricUnit.Count, value=1)
    return f"deferred {delay}s: {read.reason}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
