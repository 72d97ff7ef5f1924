"""Order sync (reconciliation), on a schedule: per connected store, retry blocked orders, then read
the orders Amazon changed (searchOrders) through the same intake as notifications.

Also retries one blocked order at once: `{"trigger": "retry", "amazon_order_id": "..."}`.
An input that is not a sync request is logged with its reason and parked.
"""

import json
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import OrderSyncRequest
from amazon_channel.domain.order_sync import StoreSyncReport, SyncSettings, retry_order, sync_stores

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics
LEASE_MARGIN_SECONDS = 30.0


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse(event=event, model=OrderSyncRequest)
    except ValueError as e:
        runtime.park_bad_input(
            json.dumps(event, default=str), e, source="order-sync", message_id=context.aws_request_id
        )
        return {"result": "invalid"}
    ports = runtime.sync_ports()
    if request.trigger == "retry" and request.amazon_order_id:  # a retry names its order (OrderSyncRequest)
        outcome = retry_order(request.amazon_order_id, ports)
        logger.info("Blocked order retry", extra=outcome.as_dict())
        metrics.add_metric(name="OrdersRetried", unit=MetricUnit.Count, value=int(outcome.result == "retried"))
        return outcome.as_dict()
    remaining = context.get_remaining_time_in_millis() / 1000.0
    deadline = time.monotonic() + remaining
    settings = SyncSettings(
        overlap_seconds=float(runtime.setting("ORDER_SYNC_OVERLAP_SECONDS", "600")),
        lease_seconds=remaining + LEASE_MARGIN_SECONDS,
    )
    reports = sync_stores(
        ports,
        settings,
        owner=context.aws_request_id,
        time_left=lambda: deadline - time.monotonic(),
        seller_id=request.seller_id,
    )
    for report in reports:
        _log_store_sync(report)
    return {"trigger": request.trigger, "stores": [r.as_dict() for r in reports]}


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
