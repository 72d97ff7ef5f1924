"""MFN workflow task: guest checkout, or the buyer's Commerce customer account (reused or created)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowState
from amazon_channel.domain.mfn_workflow import resolve_order_customer
from amazon_channel.settings import CommerceSettings, StoresSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(StoresSettings, CommerceSettings):
    """The store's settings; the buyer's Commerce customer."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    result = resolve_order_customer(state.amazon_order_id, runtime.ports(settings))
    logger.info(
        "Customer resolved", extra={"amazon_order_id": state.amazon_order_id, "guest": result["customer_id"] is None}
    )
    return {**event, **result}
