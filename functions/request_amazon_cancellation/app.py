"""MFN workflow task: send the merchant's cancellation to Amazon (a cancellation feed) once, and
report whether Amazon has processed it (`cancellation`: pending, accepted or refused)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowState
from amazon_channel.domain.cancellations import request_amazon_cancellation
from amazon_channel.settings import AmazonSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(AmazonSettings):
    """The cancellation feed on Amazon."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    result = request_amazon_cancellation(state.amazon_order_id, runtime.ports(settings))
    logger.info("Cancellation on Amazon", extra={"amazon_order_id": state.amazon_order_id, **result})
    return {**{k: v for k, v in event.items() if k != "wake"}, **result}
