"""Wiring for the Lambda handlers: Powertools observability, settings and adapters, built lazily.

No boto3 client is created at import time: clients are made on first use (so moto, or a local
endpoint given by AWS_ENDPOINT_URL, is in place by then) and kept for the warm container.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer

from .domain.orders import ChannelPorts

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

_clients: dict[tuple, object] = {}


def client(service: str):
    """A boto3 client for `service`, one per endpoint and region, made on first use."""
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (service, endpoint, region)
    if key not in _clients:
        _clients[key] = boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint)
    return _clients[key]


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or default
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


@cache
def _secret(secret_id: str, _endpoint: str | None):
    from aws_lambda_powertools.utilities import parameters

    return parameters.SecretsProvider(boto3_client=client("secretsmanager"))


def secret(secret_id: str) -> dict:
    """A JSON secret from Secrets Manager, cached for five minutes (Powertools Parameters)."""
    provider = _secret(secret_id, os.environ.get("AWS_ENDPOINT_URL"))
    return provider.get(secret_id, transform="json", max_age=300)


@cache
def _store_directory(table: str, _endpoint: str | None):
    from aws_lambda_powertools.utilities.parameters import DynamoDBProvider

    from .adapters.stores import ParameterStoreDirectory

    return ParameterStoreDirectory(table, DynamoDBProvider(table_name=table))


def traced(name: str):
    """An X-Ray subsegment around one SP-API or Commerce call, named by operation, never by URL."""
    if tracer.disabled:
        return nullcontext()
    return tracer.provider.in_subsegment(name)


@cache
def _marketplace(endpoint: str, lwa_url: str, secret_id: str, orders_table: str, _aws: str | None):
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
def _commerce(base_url: str, secret_id: str, auth: str, orders_table: str, _aws: str | None):
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
        marketplace=_marketplace(
            setting("SP_API_ENDPOINT", "https://sellingpartnerapi-na.amazon.com"),
            setting("LWA_TOKEN_URL", "https://api.amazon.com/auth/o2/token"),
            setting("SP_API_SECRET_ID"),
            orders_table,
            aws,
        ),
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


def orders_view():
    """The Orders view's adapters: index queries for pages, the order store for one order in full."""
    from .adapters.dynamodb_order_queries import DynamoDbOrderQueries
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .domain.orders_view import OrdersViewPorts

    table = setting("ORDERS_TABLE")
    return OrdersViewPorts(
        queries=DynamoDbOrderQueries(table, client("dynamodb")), orders=DynamoDbOrderStore(table, client("dynamodb"))
    )


def orders_page():
    """The orders page's adapters: the Orders view's reads, the actions' paths, the Health reads."""
    import json

    from .adapters.aws_messaging import StepFunctionsWorkflows
    from .adapters.dynamodb_order_queries import DynamoDbOrderQueries
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .adapters.orders_page_aws import (
        DynamoDbActionLog,
        DynamoDbHealthReads,
        LambdaOrderRetries,
        SqsDeadLetters,
    )
    from .adapters.sync_state import DynamoDbSyncState
    from .domain.orders_page import PagePorts

    table, db = setting("ORDERS_TABLE"), client("dynamodb")
    queries = DynamoDbOrderQueries(table, db)
    queues = {name: (urls[0], urls[1]) for name, urls in json.loads(setting("PAGE_DEAD_LETTER_QUEUES")).items()}
    dead_letters = SqsDeadLetters(queues, client("sqs"), client("cloudwatch"))
    stores = _store_directory(setting("STORES_TABLE"), os.environ.get("AWS_ENDPOINT_URL"))
    ports = PagePorts(
        orders=DynamoDbOrderStore(table, db),
        retries=LambdaOrderRetries(setting("ORDER_SYNC_FUNCTION"), client("lambda")),
        workflows=StepFunctionsWorkflows(setting("MFN_STATE_MACHINE_ARN", "unset"), client("stepfunctions")),
        dead_letters=dead_letters,
        actions=DynamoDbActionLog(setting("IDEMPOTENCY_TABLE"), db),
    )
    health = DynamoDbHealthReads(stores, DynamoDbSyncState(table, db), queries, table, db)
    return ports, queries, health, stores


def sync_ports():
    """The order sync's adapters: the channel's, plus its lease and state, and the blocked-order marks."""
    from .adapters.sync_state import DynamoDbSyncState
    from .domain.order_sync import SyncPorts

    p = ports()
    return SyncPorts(
        orders=p.orders,
        blocked=p.orders,
        stores=p.stores,
        search=p.marketplace,
        workflows=p.workflows,
        events=p.events,
        state=DynamoDbSyncState(setting("ORDERS_TABLE"), client("dynamodb")),
        parking=parking(),
        to_confirm=p.orders,
        channel=p,
    )


def parking():
    from .adapters.aws_messaging import SqsParking

    return SqsParking(setting("PARKING_QUEUE_URL"), client("sqs"))


def idempotency_store():
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
