"""Commerce shipment intake: the merchant shipped in Commerce; record it and wake the order's workflow.

Records are Adobe Commerce events that Adobe I/O Events delivered to EventBridge and EventBridge to
SQS (detail-type `<provider label>:...sales_order_shipment_save_after`). Only the shipment and
order ids are read, wherever `detail` carries them; the shipment is re-read through Commerce REST.
Bad events are parked with their reason; the batch goes on.
"""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import notifications, runtime
from amazon_channel.contracts import CommerceShipmentSaved
from amazon_channel.domain.clock import now_iso
from amazon_channel.domain.errors import PermanentError
from amazon_channel.domain.shipments import record_commerce_shipment
from amazon_channel.settings import CommerceSettings, ParkingSettings

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


class Settings(CommerceSettings, ParkingSettings):
    """The shipment re-read from Commerce; its dead-letter queue."""


settings = Settings.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any] | None:
    envelope, received_at = None, now_iso()
    try:
        envelope = json.loads(record.body)
        event = CommerceShipmentSaved.parse(envelope)
        outcome = record_commerce_shipment(event.commerce_order_id, event.shipment_id, runtime.ports(settings))
    except (ValueError, PermanentError) as e:
        runtime.park_bad_input(settings, record.body, e, source="commerce-shipments", message_id=record.message_id)
        notifications.note_replay(envelope, "CommerceShipmentIntake", "parked")
        return None
    if (
        not notifications.note_replay(envelope, "CommerceShipmentIntake", outcome.result, outcome.amazon_order_id)
        and outcome.result != "not-an-amazon-order"
        and outcome.amazon_order_id
    ):
        notifications.keep_commerce_event(outcome.amazon_order_id, envelope, received_at)
    logger.info(
        "Commerce shipment handled",
        extra={
            "result": outcome.result,
            "amazon_order_id": outcome.amazon_order_id,
            "replay": envelope.get("replay-name"),
        },
    )
    return {"result": outcome.result}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
