"""Daily maintenance, on a schedule: remove the buyer data of orders that ended more than
`PII_RETENTION_DAYS` ago, and report how many days the LWA client secret has left
(`LwaClientSecretDaysLeft`, alarmed below 14).
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from amazon_channel import runtime
from amazon_channel.domain import clock, lwa_secret
from amazon_channel.domain.pii import remove_expired_pii
from amazon_channel.settings import Settings as ChannelSettings

logger, tracer, metrics = runtime.logger, runtime.tracer, runtime.metrics


class Settings(ChannelSettings):
    """The orders past retention; the LWA client secret's rotation date (its tags, not its value)."""

    sp_api_secret_id: str = Field(alias="SP_API_SECRET_ID")
    pii_retention_days: int = Field(30, alias="PII_RETENTION_DAYS", ge=1, le=30)


settings = Settings.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    days = settings.pii_retention_days
    orders, ledger = runtime.retention(settings)
    report = remove_expired_pii(orders, ledger, now, days)
    logger.info("Buyer data past retention removed", extra={"retention_days": days, **report.as_dict()})
    metrics.add_metric(name="BuyerDataRemoved", unit=MetricUnit.Count, value=len(report.removed))

    rotated_at = runtime.secret_tags(settings.sp_api_secret_id).get(lwa_secret.ROTATED_AT_TAG)
    left = lwa_secret.days_left(rotated_at, now)
    if rotated_at is None:
        logger.warning("LWA client secret: rotation date unknown; run amazon-channel rotate-lwa-secret")
    metrics.add_metric(name="LwaClientSecretDaysLeft", unit=MetricUnit.Count, value=left)
    return {
        "retention": report.as_dict(),
        "lwa_client_secret_days_left": left,
        "lwa_client_secret_rotated_at": rotated_at,
    }
