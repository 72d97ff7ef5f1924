"""Commerce cancellation intake: the merchant canceled (or fully credited) an Amazon order's Commerce
order; accept it for Amazon (waking the order's workflow) or refuse it with a note.

Records are Adobe Commerce events (`order_cancel_after`, `sales_order_creditmemo_save_after`) that
Adobe I/O Events delivered to EventBridge and EventBridge to SQS. The event is only a wake-up: its
order id is read wherever `detail` carries it, and the order is read back through Commerce REST.
Bad events are parked with their reason; the batch goes on.
"""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import CommerceOrderCanceled
from amazon_channel.domain.cancellations import record_commerce_cancellation
from amazon_channel.domain.errors import PermanentError
from amazon_channel.settings import CommerceSettings, ParkingSettings

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


class Settings(CommerceSettings, ParkingSettings):
    """The order re-read from Commerce; its dead-letter queue."""


settings = Settings.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any] | None:
    try:
        envelope = json.loads(record.body)
        event = CommerceOrderCanceled.parse(envelope)
        outcome = record_commerce_cancellation(event.commerce_order_id, runtime.ports(settings))
    except (ValueError, PermanentError) as e:
        runtime.park_bad_input(settings, record.body, e, source="commerce-cancellations", message_id=record.message_id)
        return None
    logger.info(
        "Commerce cancellation handled",
        extra={"result": outcome.result, "event_code": event.code, "amazon_order_id": outcome.amazon_order_id},
    )
    return {"result": outcome.result}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
