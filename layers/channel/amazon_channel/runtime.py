"""Wiring for the Lambda handlers: Powertools observability, settings and adapters, built lazily.

No boto3 client is created at import time: clients are made on first use (so moto, or a local
endpoint given by AWS_ENDPOINT_URL, is in place by then) and kept for the warm container.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from .domain.orders import ChannelPorts

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from .adapters.aws_messaging import SqsParking
    from .adapters.commerce_rest import CommerceRestClient
    from .adapters.sp_api import SellingPartnerClient
    from .adapters.stores import ParameterStoreDirectory
    from .domain.order_sync import SyncPorts
    from .domain.orders_view import OrdersViewPorts

# `sam local invoke --env-vars` can only set declared variables; the template declares this one
# empty, and an empty endpoint means "the real AWS".
if os.environ.get("AWS_ENDPOINT_URL") == "":
    del os.environ["AWS_ENDPOINT_URL"]

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "amazon-channel"))
# Only the AWS SDK is patched. Patching everything (the default) also records every HTTP URL, and
# a Commerce customer search carries the buyer's email in its query string: the HTTP clients open
# their own subsegments instead, named by operation (see `traced`). It also imports less.
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "amazon-channel"), patch_modules=("botocore",))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AmazonChannel"))

_clients: dict[tuple[Any, ...], Any] = {}


def client(service: str) -> Any:
    """A boto3 client for `service`, one per endpoint and region, made on first use.

    Any: boto3 types a client by its service name only where the stubs are installed; the adapters
    behind the ports are what the domain sees, and moto's tests exercise their calls.
    """
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (service, endpoint, region)
    if key not in _clients:
        _clients[key] = boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint)  # type: ignore[call-overload]
    return _clients[key]


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or default
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


@cache
def _secret(secret_id: str, _endpoint: str | None) -> SecretsProvider:
    from aws_lambda_powertools.utilities import parameters

    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def secret(secret_id: str) -> dict[str, Any]:
    """A JSON secret from Secrets Manager, cached for five minutes (Powertools Parameters)."""
    provider = _secret(secret_id, os.environ.get("AWS_ENDPOINT_URL"))
    value = provider.get(secret_id, transform="json", max_age=300)
    if not isinstance(value, dict):
        raise RuntimeError(f"secret {secret_id} is not a JSON object")
    return value


@cache
def _store_directory(table: str, _endpoint: str | None) -> ParameterStoreDirectory:
    from aws_lambda_powertools.utilities.parameters import DynamoDBProvider

    from .adapters.stores import ParameterStoreDirectory

    return ParameterStoreDirectory(table, DynamoDBProvider(table_name=table))


def traced(name: str) -> AbstractContextManager[Any]:
    """An X-Ray subsegment around one SP-API or Commerce call, named by operation, never by URL."""
    if tracer.disabled:
        return nullcontext()
    return tracer.provider.in_subsegment(name)


@cache
def _marketplace(
    endpoint: str, lwa_url: str, secret_id: str, orders_table: str, _aws: str | None
) -> SellingPartnerClient:
    from .adapters.rate_budget import DynamoDbRateBudget
    from .adapters.sp_api import SellingPartnerClient

    return SellingPartnerClient(
        endpoint=endpoint,
        lwa_token_url=lwa_url,
        credentials=lambda: secret(secret_id),
        rate_budget=DynamoDbRateBudget(orders_table, client("dynamodb")),
        # A wait for the shared rate budget must end well within the function's timeout: beyond
        # it the call fails as AmazonThrottled, which the workflow retries and the sync resumes.
        max_wait=float(setting("SP_API_MAX_WAIT_SECONDS", "20")),
        traced=traced,
    )


@cache
def _commerce(base_url: str, secret_id: str, auth: str, orders_table: str, _aws: str | None) -> CommerceRestClient:
    from .adapters.commerce_rest import CommerceRestClient
    from .adapters.stock_leases import DynamoDbStockLeases

    # The secret holds the integration's four credentials (OAuth 1.0a), read again as its cache renews
    return CommerceRestClient(
        base_url=base_url,
        credentials=lambda: secret(secret_id),
        auth=auth,
        traced=traced,
        stock_leases=DynamoDbStockLeases(orders_table, client("dynamodb")),
    )


def ports() -> ChannelPorts:
    """The adapters for this invocation's configuration (cached per configuration)."""
    from .adapters.aws_messaging import EventBridgePublisher, StepFunctionsWorkflows
    from .adapters.dynamodb_orders import DynamoDbOrderStore

    aws = os.environ.get("AWS_ENDPOINT_URL")
    orders_table = setting("ORDERS_TABLE")
    return ChannelPorts(
        orders=DynamoDbOrderStore(orders_table, client("dynamodb")),
        stores=_store_directory(setting("STORES_TABLE"), aws),
        marketplace=_configured_marketplace(),
        commerce=_commerce(
            setting("COMMERCE_BASE_URL"),
            setting("COMMERCE_SECRET_ID"),
            setting("COMMERCE_AUTH", "oauth1"),
            orders_table,
            aws,
        ),
        events=EventBridgePublisher(setting("EVENT_BUS_NAME"), client("events")),
        workflows=StepFunctionsWorkflows(setting("MFN_STATE_MACHINE_ARN", "unset"), client("stepfunctions")),
    )


def _configured_marketplace() -> SellingPartnerClient:
    return _marketplace(
        setting("SP_API_ENDPOINT", "https://sellingpartnerapi-na.amazon.com"),
        setting("LWA_TOKEN_URL", "https://api.amazon.com/auth/o2/token"),
        setting("SP_API_SECRET_ID"),
        setting("ORDERS_TABLE"),
        os.environ.get("AWS_ENDPOINT_URL"),
    )


def orders_view() -> OrdersViewPorts:
    """The Orders view's adapters: index queries for pages, the order store for one order in full."""
    from .adapters.dynamodb_order_queries import DynamoDbOrderQueries
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .domain.orders_view import OrdersViewPorts

    table = setting("ORDERS_TABLE")
    return OrdersViewPorts(
        queries=DynamoDbOrderQueries(table, client("dynamodb")), orders=DynamoDbOrderStore(table, client("dynamodb"))
    )


def sync_ports() -> SyncPorts:
    """The order sync's adapters: the channel's, plus its lease and state, and the blocked-order marks."""
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .adapters.sync_state import DynamoDbSyncState
    from .domain.order_sync import SyncPorts

    p = ports()
    orders = DynamoDbOrderStore(setting("ORDERS_TABLE"), client("dynamodb"))  # also the blocked and to-confirm lists
    return SyncPorts(
        orders=orders,
        blocked=orders,
        stores=p.stores,
        search=_configured_marketplace(),
        workflows=p.workflows,
        events=p.events,
        state=DynamoDbSyncState(setting("ORDERS_TABLE"), client("dynamodb")),
        parking=parking(),
        to_confirm=orders,
        channel=p,
    )


def parking() -> SqsParking:
    from .adapters.aws_messaging import SqsParking

    return SqsParking(setting("PARKING_QUEUE_URL"), client("sqs"))


def idempotency_store() -> DynamoDBPersistenceLayer:
    """Powertools idempotency records in the idempotency table."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=setting("IDEMPOTENCY_TABLE"), boto3_client=client("dynamodb"))


def reset() -> None:
    """Forget cached clients and adapters (the local stack calls this between stacks)."""
    _clients.clear()
    for f in (_secret, _store_directory, _marketplace, _commerce):
        f.cache_clear()


def park_bad_input(body: str, error: Exception, source: str, message_id: str) -> None:
    """Input that can never succeed: log why, count it, and park it in the DLQ with its reason."""
    from aws_lambda_powertools.metrics import MetricUnit

    reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    field = getattr(error, "field", None)
    logger.warning("Input parked", extra={"reason": reason, "source": source, "message_id": message_id, "field": field})
    metrics.add_metric(name="InputParked", unit=MetricUnit.Count, value=1)
    parking().park(body, reason=reason, source=source, field=field)
