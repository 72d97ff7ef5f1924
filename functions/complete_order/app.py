"""MFN workflow task: every item shipped and synced; the order ends Shipped / complete."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowState
from amazon_channel.domain.mfn_workflow import complete_order
from amazon_channel.settings import CommerceSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(CommerceSettings):
    """The Commerce order."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    result = complete_order(state.amazon_order_id, runtime.ports(settings))
    logger.info("Order complete", extra={"amazon_order_id": state.amazon_order_id, **result})
    return {**event, **result}
