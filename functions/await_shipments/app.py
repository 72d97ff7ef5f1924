"""MFN workflow task (.waitForTaskToken): keep the task token on the order until the merchant ships."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import AwaitShipmentsInput
from amazon_channel.domain.mfn_workflow import await_shipments
from amazon_channel.settings import Settings as ChannelSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(ChannelSettings):
    """The order only (waking the workflow needs only its task token)."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=AwaitShipmentsInput)
    woke = await_shipments(request.order.amazon_order_id, request.task_token, runtime.ports(settings))
    logger.info("Waiting for shipments", extra={"amazon_order_id": request.order.amazon_order_id, "woke_at_once": woke})
    return {"registered": True, "woke_at_once": woke}
