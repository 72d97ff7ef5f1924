"""MFN workflow task: confirm each new Commerce shipment to Amazon as one package (confirmShipment)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowState
from amazon_channel.domain.mfn_workflow import confirm_shipments
from amazon_channel.settings import AmazonSettings, EventsSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(AmazonSettings, EventsSettings):
    """confirmShipment on Amazon; ShipmentConfirmedToAmazon on the bus."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    result = confirm_shipments(
        state.amazon_order_id,
        runtime.ports(settings),
        lease_seconds=runtime.lease_seconds(context),
        owner=context.aws_request_id,
    )
    logger.info("Shipments confirmed", extra={"amazon_order_id": state.amazon_order_id, **result})
    return {**{k: v for k, v in event.items() if k != "wake"}, **result}
