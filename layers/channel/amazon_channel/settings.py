"""The functions' settings: each handler declares the environment variables it needs as a pydantic
model built from these parts, and validates it when Lambda imports it (its cold start), so that a
missing variable fails at once with its name, not deep inside the first order.

`Settings` is what every function has (template.yaml `Globals`); each part adds one resource's
variables, and template.yaml gives a function exactly the variables of its parts. An empty value
counts as missing (`sam local invoke --env-vars` can only set declared variables, and an empty
template parameter means "the default").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """A function's environment does not hold what its handler declares."""


class Settings(BaseModel):
    """What every function has: the orders table (and Powertools' and the AWS SDK's own variables)."""

    # Built on first validation only, and by the handler's own model only, not by every part.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    orders_table: str = Field(alias="ORDERS_TABLE")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from `environ` (default: the process environment), or a `SettingsError`
        naming every missing or invalid variable."""
        values = {k: v for k, v in (os.environ if environ is None else environ).items() if v != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            raise SettingsError(_explain(cls, e)) from None


def _explain(cls: type[Settings], error: ValidationError) -> str:
    missing = [str(err["loc"][0]) for err in error.errors() if err["type"] == "missing"]
    invalid = [f"{err['loc'][0]}: {err['msg']}" for err in error.errors() if err["type"] != "missing"]
    problems = ([f"missing environment variable(s) {', '.join(missing)}"] if missing else []) + [
        f"invalid environment variable {text}" for text in invalid
    ]
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "this function"
    return (
        f"{function} ({cls.__module__}.{cls.__qualname__}): {'; '.join(problems)}"
        " (template.yaml declares each function's variables)"
    )


class StoresSettings(Settings):
    stores_table: str = Field(alias="STORES_TABLE")


class IdempotencySettings(Settings):
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")


class EventsSettings(Settings):
    """The channel's event bus (events to the ERP and to the FBA import)."""

    event_bus_name: str = Field(alias="EVENT_BUS_NAME")


class WorkflowStartSettings(Settings):
    """Starting the MFN workflow (waking a waiting one needs only its task token)."""

    mfn_state_machine_arn: str = Field(alias="MFN_STATE_MACHINE_ARN")


class ParkingSettings(Settings):
    """The dead-letter queue where input that can never succeed is parked with its reason."""

    parking_queue_url: str = Field(alias="PARKING_QUEUE_URL")


class AmazonSettings(Settings):
    """Amazon's Selling Partner API and its Login with Amazon credentials."""

    sp_api_endpoint: str = Field("https://sellingpartnerapi-na.amazon.com", alias="SP_API_ENDPOINT")
    lwa_token_url: str = Field("https://api.amazon.com/auth/o2/token", alias="LWA_TOKEN_URL")
    sp_api_secret_id: str = Field(alias="SP_API_SECRET_ID")
    # A retry's back-off (a 429 or 5xx answer) must end well within the function's timeout.
    sp_api_max_wait_seconds: float = Field(20.0, alias="SP_API_MAX_WAIT_SECONDS", gt=0)
    # No function waits for the shared rate budget: an empty budget fails the call at once as
    # AmazonThrottled (retry_after = its refill time), and the work is deferred: the notification
    # goes back to its queue, the workflow's task is retried, the sync resumes from its cursor.
    sp_api_max_budget_wait_seconds: float = Field(0.0, alias="SP_API_MAX_BUDGET_WAIT_SECONDS", ge=0)
    # The notification intake reads with one attempt and a short timeout: a slow or failing Amazon
    # leaves the order to the workflow, whose retries outlast it, instead of timing out a whole batch.
    sp_api_max_attempts: int = Field(5, alias="SP_API_MAX_ATTEMPTS", ge=1)
    sp_api_read_timeout_seconds: float = Field(20.0, alias="SP_API_READ_TIMEOUT_SECONDS", gt=0)


class CommerceSettings(Settings):
    """The merchant's Adobe Commerce store (REST, as the channel's integration)."""

    commerce_base_url: str = Field(alias="COMMERCE_BASE_URL")
    commerce_secret_id: str = Field(alias="COMMERCE_SECRET_ID")
    commerce_auth: Literal["oauth1", "bearer"] = Field("oauth1", alias="COMMERCE_AUTH")


class NotificationDeferralSettings(Settings):
    """The notifications queue, where a notification whose order waits for getOrder's quota goes back."""

    notifications_queue_url: str = Field(alias="NOTIFICATIONS_QUEUE_URL")
    order_sync_interval_minutes: float = Field(5.0, alias="ORDER_SYNC_INTERVAL_MINUTES")


class SyncContinuationSettings(Settings):
    """The queue on which a sync run cut short by the searchOrders quota continues later."""

    order_sync_continuations_queue_url: str = Field(alias="ORDER_SYNC_CONTINUATIONS_QUEUE_URL")
