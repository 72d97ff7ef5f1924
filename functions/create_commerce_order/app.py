"""MFN workflow task: create the Commerce order with Amazon's prices, exactly once."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowState
from amazon_channel.domain.mfn_workflow import create_commerce_order
from amazon_channel.settings import CommerceSettings, StoresSettings

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


class Settings(StoresSettings, CommerceSettings):
    """The store's settings; the Commerce order."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    result = create_commerce_order(
        state.amazon_order_id,
        state.customer_id,
        runtime.ports(settings),
        lease_seconds=runtime.lease_seconds(context),
        owner=context.aws_request_id,
    )
    logger.info("Commerce order ready", extra={"amazon_order_id": state.amazon_order_id, **result})
    metrics.add_metric(name="CommerceOrdersCreated", unit=MetricUnit.Count, value=1)
    return {**event, **result}
