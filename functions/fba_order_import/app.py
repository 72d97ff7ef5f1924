"""FBA order import: an Amazon-shipped order becomes a complete Commerce order, once.

Records are the channel's own `FbaOrderShipped` events, delivered by EventBridge to SQS and parsed
out of their EventBridge envelope. Idempotent per Amazon order (Powertools Idempotency), so
concurrent or repeated events never create a second Commerce order. An order Commerce refuses (a
product missing, disabled or not salable) is not bad input: it shows `Error` with the reason, fires
`OrdersBlocked`, and the order sync retries it; its event is done, not parked.
"""

import functools
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import notifications, runtime
from amazon_channel.contracts import ChannelOrderEvent
from amazon_channel.domain import outbox
from amazon_channel.domain.errors import OrderBlocked, PermanentError
from amazon_channel.domain.fba_import import import_fba_order
from amazon_channel.settings import (
    AmazonSettings,
    CommerceSettings,
    EventsSettings,
    IdempotencySettings,
    ParkingSettings,
    StoresSettings,
)

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


class Settings(StoresSettings, IdempotencySettings, AmazonSettings, CommerceSettings, EventsSettings, ParkingSettings):
    """The FBA order from Amazon into Commerce once; CommerceOrderCreated; its dead-letter queue."""


settings = Settings.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)
_idempotency = IdempotencyConfig(event_key_jmespath="amazon_order_id", expires_after_seconds=24 * 3600)


def _import(order: ChannelOrderEvent) -> dict[str, Any]:
    return {"result": import_fba_order(order.amazon_order_id, runtime.ports(settings))}


@functools.cache
def _import_once() -> Callable[..., Any]:
    """The idempotent import, made on first use: its persistence store's client is created then."""
    once: Callable[..., Any] = idempotent_function(
        data_keyword_argument="order", persistence_store=runtime.idempotency_store(settings), config=_idempotency
    )(_import)
    return once


def _import_order_once(order: ChannelOrderEvent) -> dict[str, Any]:
    outcome: dict[str, Any] = _import_once()(order=order)
    return outcome


def _order_event(envelope: Any) -> ChannelOrderEvent:
    """The order an EventBridge event's detail names (one order, never a list or nothing)."""
    order = parse(event=envelope, model=ChannelOrderEvent, envelope=EventBridgeEnvelope)
    if not isinstance(order, ChannelOrderEvent):
        raise ValueError("the event's detail is not one order")
    return order


def _replayed_import(order: ChannelOrderEvent) -> dict[str, Any] | None:
    """A replayed event for an order already imported: say so (within a day the idempotency
    record would answer with the first delivery's "imported", which did not happen now)."""
    ports = runtime.ports(settings)
    current = ports.orders.get(order.amazon_order_id)
    if current is None or current.commerce is None:
        return None
    outbox.deliver(ports.orders, ports.events, current)  # what the first delivery may not have sent
    return {"result": "already-imported"}


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any] | None:
    envelope = None
    try:
        envelope = json.loads(record.body)
        order = _order_event(envelope)
        outcome = _replayed_import(order) if notifications.replay_name(envelope) else None
        outcome = outcome or _import_order_once(order=order)
    except OrderBlocked as e:
        # Raised, not returned, so that no idempotency record answers the sync's retry with "blocked".
        notifications.note_replay(envelope, "FbaOrderImport", "blocked", order.amazon_order_id)
        logger.warning(
            "FBA order blocked", extra={"amazon_order_id": order.amazon_order_id, "reason": str(e), "newly": e.newly}
        )
        if e.newly:
            metrics.add_metric(name="OrdersBlocked", unit=MetricUnit.Count, value=1)
        return {"result": "blocked"}
    except (ValueError, ValidationError, PermanentError) as e:
        runtime.park_bad_input(settings, record.body, e, source="fba-order-import", message_id=record.message_id)
        notifications.note_replay(envelope, "FbaOrderImport", "parked")
        return None
    replay = notifications.note_replay(envelope, "FbaOrderImport", outcome["result"], order.amazon_order_id)
    logger.info("FBA order handled", extra={"amazon_order_id": order.amazon_order_id, **outcome, "replay": replay})
    if not replay:
        metrics.add_metric(name="FbaOrdersImported", unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
