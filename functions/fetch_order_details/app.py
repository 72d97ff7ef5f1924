"""MFN workflow task: fetch the order's details from Amazon once (getOrder) and keep them."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowState
from amazon_channel.domain.mfn_workflow import fetch_order_details
from amazon_channel.settings import AmazonSettings, StoresSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(StoresSettings, AmazonSettings):
    """getOrder on Amazon; the store's settings."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    result = fetch_order_details(state.amazon_order_id, runtime.ports(settings))
    logger.info("Order details ready", extra={"amazon_order_id": state.amazon_order_id, **result})
    return {**event, **result}
