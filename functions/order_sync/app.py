"""Order sync (reconciliation), on a schedule: per connected store, retry blocked orders, then read
the orders Amazon changed (searchOrders) through the same intake as notifications. The stores are
synced side by side (a thread each), so one store's backlog never delays another's.

Also retries one blocked order at once: `{"trigger": "retry", "amazon_order_id": "..."}`.
An input that is not a sync request is logged with its reason and parked.

A run the searchOrders quota cut short never waits for it: it saves its cursor and sends a
delayed `{"trigger": "continue", "seller_id": ...}` to its continuation queue, due when the quota
has a page again (one pending per store); that message (SQS, one at a time) runs the store's sync.
"""

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from amazon_channel import runtime
from amazon_channel.contracts import OrderSyncRequest
from amazon_channel.domain import clock
from amazon_channel.domain.clock import now_iso
from amazon_channel.domain.order_sync import StoreSyncReport, SyncSettings, continue_later, retry_order, sync_stores
from amazon_channel.settings import (
    AmazonSettings,
    EventsSettings,
    ParkingSettings,
    StoresSettings,
    SyncContinuationSettings,
    WorkflowStartSettings,
)

if TYPE_CHECKING:  # Powertools' batch package loads asyncio: imported at run time only for continuations
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


LEASE_MARGIN_SECONDS = 30.0


class Settings(
    StoresSettings, AmazonSettings, WorkflowStartSettings, EventsSettings, ParkingSettings, SyncContinuationSettings
):
    """Per store: searchOrders, the intake (workflows, bus); its dead-letter queue; its continuations."""

    # Each search starts this long before the stored watermark (template parameter OrderSyncOverlapSeconds).
    order_sync_overlap_seconds: float = Field(600.0, alias="ORDER_SYNC_OVERLAP_SECONDS", ge=0)
    # Stores synced side by side, a thread each (a store's backlog never takes another's run).
    order_sync_stores_at_once: int = Field(32, alias="ORDER_SYNC_STORES_AT_ONCE", ge=1)


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> "dict[str, Any] | PartialItemFailureResponse":
    if isinstance(event, dict) and "Records" in event:  # continuations, from the continuation queue
        return _continue(event, context)
    return _request(event, context)


def _continue(event: dict[str, Any], context: LambdaContext) -> "PartialItemFailureResponse":
    """Continuation messages, as a partial batch (Powertools' batch loads asyncio: only here)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return process_partial_response(
        event=event,
        record_handler=lambda record: _request(_body(record), context),
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )


def _body(record: Any) -> Any:
    try:
        return json.loads(record.body)
    except ValueError:
        return record.body  # not a sync request: parked as such


def _request(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse(event=event, model=OrderSyncRequest)
    except ValueError as e:
        runtime.park_bad_input(
            settings, json.dumps(event, default=str), e, source="order-sync", message_id=context.aws_request_id
        )
        return {"result": "invalid"}
    ports = runtime.sync_ports(settings)
    if request.trigger == "retry" and request.amazon_order_id:  # a retry names its order (OrderSyncRequest)
        outcome = retry_order(request.amazon_order_id, ports)
        logger.info("Blocked order retry", extra=outcome.as_dict())
        metrics.add_metric(name="OrdersRetried", unit=MetricUnit.Count, value=int(outcome.result == "retried"))
        return outcome.as_dict()
    remaining = context.get_remaining_time_in_millis() / 1000.0
    deadline = clock.monotonic() + remaining
    sync_settings = SyncSettings(
        overlap_seconds=settings.order_sync_overlap_seconds, lease_seconds=remaining + LEASE_MARGIN_SECONDS
    )
    reports = sync_stores(
        ports,
        sync_settings,
        owner=context.aws_request_id,
        time_left=lambda: deadline - clock.monotonic(),
        seller_id=request.seller_id,
        fan_out=runtime.store_fan_out(settings.order_sync_stores_at_once),
    )
    _report(reports)
    for seller_id, seconds in continue_later(reports, ports.state, now_iso()):
        delay = runtime.sync_continuations(settings).continue_later(seller_id, seconds)
        logger.info("Store sync continues later", extra={"seller_id": seller_id, "seconds": delay})
    return {"trigger": request.trigger, "stores": [r.as_dict() for r in reports]}


def _report(reports: list[StoreSyncReport]) -> None:
    for report in reports:
        _log_store_sync(report)


def _log_store_sync(report: StoreSyncReport) -> None:
    """One store's sync in the logs and metrics: failed or cut short, orders recovered, retried, parked."""
    summary = report.as_dict()
    if report.result == "failed":
        logger.error("Store sync failed", extra=summary)
    else:
        logger.info("Store synced", extra=summary)
    for amazon_order_id, reason in report.parked:
        logger.warning(
            "Input parked", extra={"reason": reason, "source": "order-sync", "amazon_order_id": amazon_order_id}
        )
    metrics.add_metric(name="OrderSyncFailed", unit=MetricUnit.Count, value=int(report.result == "failed"))
    metrics.add_metric(name="OrderSyncCutShort", unit=MetricUnit.Count, value=int(report.result == "resumable"))
    metrics.add_metric(
        name="OrdersRecoveredBySync",
        unit=MetricUnit.Count,
        value=report.orders.get("recorded", 0) + report.orders.get("advanced", 0),
    )
    metrics.add_metric(
        name="OrdersRetried", unit=MetricUnit.Count, value=sum(r.result == "retried" for r in report.retries)
    )
    metrics.add_metric(name="InputParked", unit=MetricUnit.Count, value=len(report.parked))
