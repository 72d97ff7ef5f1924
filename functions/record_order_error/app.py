"""MFN workflow Catch: the order shows Error, with the reason in its notes, and a metric fires."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.contracts import WorkflowError, WorkflowState
from amazon_channel.domain.mfn_workflow import record_order_error
from amazon_channel.settings import Settings as ChannelSettings

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


class Settings(ChannelSettings):
    """The order only."""


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=WorkflowState)
    error = WorkflowError.model_validate(event.get("error") or {})
    result = record_order_error(state.amazon_order_id, error.Error, error.Cause, runtime.ports(settings))
    logger.error("Order workflow failed", extra={"amazon_order_id": state.amazon_order_id, "error": error.Error})
    metrics.add_metric(name="OrdersBlocked", unit=MetricUnit.Count, value=1)
    return {**event, **result}
