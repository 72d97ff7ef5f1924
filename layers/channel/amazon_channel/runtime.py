"""Wiring for the Lambda handlers: Powertools observability, settings and adapters, built lazily.

No boto3 client is created at import time: clients are made on first use (so moto, or a local
endpoint given by AWS_ENDPOINT_URL, is in place by then) and kept for the warm container.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

from .domain.orders import ChannelPorts
from .settings import (
    AmazonSettings,
    CommerceSettings,
    EventsSettings,
    IdempotencySettings,
    NotificationDeferralSettings,
    ParkingSettings,
    Settings,
    StoresSettings,
    SyncContinuationSettings,
)

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from .adapters.commerce_rest import CommerceRestClient
    from .adapters.sp_api import SellingPartnerClient
    from .adapters.stores import ParameterStoreDirectory
    from .domain.order_sync import SyncPorts
    from .domain.orders_view import OrdersViewPorts
    from .domain.ports import OrderReads, OrderSearch

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
_clients_lock = threading.Lock()


@cache
def _session() -> Any:
    """The container's one boto3 session: its clients share the service models and endpoint data
    it loaded once (a session per client read them from disk again for each client)."""
    import boto3

    return boto3.session.Session()


def client(service: str) -> Any:
    """A boto3 client for `service`, one per endpoint and region, made on first use.

    Made under a lock: a boto3 session is not safe to make clients from on several threads at once
    (the order sync syncs stores side by side). Any: boto3 types a client by its service name only
    where the stubs are installed; the adapters behind the ports are what the domain sees.
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (service, endpoint, region)
    if key not in _clients:
        with _clients_lock:
            if key not in _clients:
                _clients[key] = _session().client(service, region_name=region, endpoint_url=endpoint)
    return _clients[key]


def lease_seconds(context: Any, margin: float = 3.0) -> float:
    """How long a lease taken by this invocation lasts: its remaining time plus `margin`. Lambda
    ends an invocation at its timeout, so once the lease expires its holder is certainly gone."""
    return float(context.get_remaining_time_in_millis()) / 1000.0 + margin


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
    *,
    endpoint: str,
    lwa_url: str,
    secret_id: str,
    max_wait: float,
    max_budget_wait: float,
    max_attempts: int,
    read_timeout: float,
    orders_table: str,
    _aws: str | None,
) -> SellingPartnerClient:
    import urllib3

    from .adapters.rate_budget import DynamoDbRateBudget
    from .adapters.sp_api import SellingPartnerClient
    from .domain import clock

    return SellingPartnerClient(
        endpoint=endpoint,
        lwa_token_url=lwa_url,
        credentials=lambda: secret(secret_id),
        # The budget reads the project's clock (domain.clock), as the deferrals it decides do
        rate_budget=DynamoDbRateBudget(orders_table, client("dynamodb"), clock=lambda: clock.now().timestamp()),
        max_wait=max_wait,
        max_budget_wait=max_budget_wait,
        max_attempts=max_attempts,
        timeout=urllib3.Timeout(connect=3.05, read=read_timeout),
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


class NotConfigured:
    """A port the function's settings do not declare: any use says which, and which variables it needs
    (the function's IAM policy has no grant for it either)."""

    def __init__(self, port: str, settings: Settings, part: type[Settings]):
        self._why = (
            f"{type(settings).__qualname__} of {type(settings).__module__} has no {port}: it needs "
            f"{', '.join(f.alias or n for n, f in part.model_fields.items() if n not in Settings.model_fields)} "
            f"({part.__name__})"
        )

    def __getattr__(self, name: str) -> NoReturn:
        raise NotConfiguredError(self._why)


class NotConfiguredError(RuntimeError):
    """A handler used a port its settings do not declare."""


def _part[Port](settings: Settings, part: type[Settings], port: str, build: Callable[[], Port]) -> Port:
    # NotConfigured stands in for the port: any use of it raises, naming what is missing.
    return build() if isinstance(settings, part) else cast("Port", NotConfigured(port, settings, part))


def ports(settings: Settings) -> ChannelPorts:
    """The adapters `settings` declare (cached per configuration); the others are `NotConfigured`."""
    from .adapters.aws_messaging import EventBridgePublisher, StepFunctionsWorkflows
    from .adapters.dynamodb_orders import DynamoDbOrderStore

    aws, table = os.environ.get("AWS_ENDPOINT_URL"), settings.orders_table
    s: Any = settings
    return ChannelPorts(
        orders=DynamoDbOrderStore(table, client("dynamodb")),
        stores=_part(settings, StoresSettings, "stores", lambda: _store_directory(s.stores_table, aws)),
        marketplace=_part(
            settings,
            AmazonSettings,
            "marketplace",
            lambda: _marketplace(
                endpoint=s.sp_api_endpoint,
                lwa_url=s.lwa_token_url,
                secret_id=s.sp_api_secret_id,
                max_wait=s.sp_api_max_wait_seconds,
                max_budget_wait=s.sp_api_max_budget_wait_seconds,
                max_attempts=s.sp_api_max_attempts,
                read_timeout=s.sp_api_read_timeout_seconds,
                orders_table=table,
                _aws=aws,
            ),
        ),
        commerce=_part(
            settings,
            CommerceSettings,
            "commerce",
            lambda: _commerce(s.commerce_base_url, s.commerce_secret_id, s.commerce_auth, table, aws),
        ),
        events=_part(
            settings, EventsSettings, "events", lambda: EventBridgePublisher(s.event_bus_name, client("events"))
        ),
        # Waking a waiting workflow needs only its task token; starting one needs the state machine.
        workflows=StepFunctionsWorkflows(getattr(settings, "mfn_state_machine_arn", None), client("stepfunctions")),
    )


def orders_view(settings: Settings) -> OrdersViewPorts:
    """The Orders view's adapters: index queries for pages, the order store for one order in full."""
    from .adapters.dynamodb_order_queries import DynamoDbOrderQueries
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .domain.orders_view import OrdersViewPorts

    table = settings.orders_table
    return OrdersViewPorts(
        queries=DynamoDbOrderQueries(table, client("dynamodb")), orders=DynamoDbOrderStore(table, client("dynamodb"))
    )


def orders_page(settings: Any) -> tuple[Any, Any, Any, Any]:
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

    table, db = settings.orders_table, client("dynamodb")
    queries = DynamoDbOrderQueries(table, db)
    queues = {name: (urls[0], urls[1]) for name, urls in json.loads(settings.page_dead_letter_queues).items()}
    dead_letters = SqsDeadLetters(queues, client("sqs"), client("cloudwatch"))
    stores = _store_directory(settings.stores_table, os.environ.get("AWS_ENDPOINT_URL"))
    ports = PagePorts(
        orders=DynamoDbOrderStore(table, db),
        retries=LambdaOrderRetries(settings.order_sync_function, client("lambda")),
        workflows=StepFunctionsWorkflows(settings.mfn_state_machine_arn, client("stepfunctions")),
        dead_letters=dead_letters,
        actions=DynamoDbActionLog(settings.idempotency_table, db),
    )
    health = DynamoDbHealthReads(stores, DynamoDbSyncState(table, db), queries, table, db)
    return ports, queries, health, stores


def sync_ports(settings: Settings) -> SyncPorts:
    """The order sync's adapters: the channel's, plus its lease and state, and the blocked-order marks."""
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .adapters.sync_state import DynamoDbSyncState
    from .domain.order_sync import SyncPorts

    p = ports(settings)
    orders = DynamoDbOrderStore(settings.orders_table, client("dynamodb"))  # also the blocked and to-confirm lists
    return SyncPorts(
        orders=orders,
        blocked=orders,
        stores=p.stores,
        search=cast("OrderSearch", p.marketplace),  # the SP-API client also searches orders
        workflows=p.workflows,
        events=p.events,
        state=DynamoDbSyncState(settings.orders_table, client("dynamodb")),
        parking=parking(settings),
        to_confirm=orders,
        channel=p,
    )


def read_ports(settings: Settings) -> Any:
    """The notification intake's order reads: getOrder on booked tokens, planned with the order sync."""
    from .adapters.sync_state import DynamoDbSyncState
    from .domain.intake import IntakePorts
    from .domain.order_reads import ReadPorts

    p = ports(settings)
    return ReadPorts(
        intake=IntakePorts(orders=p.orders, stores=p.stores, workflows=p.workflows, events=p.events),
        reads=cast("OrderReads", p.marketplace),  # the SP-API client also books and reads orders
        plans=DynamoDbSyncState(settings.orders_table, client("dynamodb")),
    )


def sync_continuations(settings: SyncContinuationSettings) -> Any:
    """Delayed messages that continue a store's sync once its searchOrders quota has a page."""
    from .adapters.aws_messaging import SqsSyncContinuations

    return SqsSyncContinuations(settings.order_sync_continuations_queue_url, client("sqs"))


def deferrals(settings: NotificationDeferralSettings) -> Any:
    """Notifications sent back to their queue with a delay until their order's read is due."""
    from .adapters.aws_messaging import SqsDeferrals

    return SqsDeferrals(settings.notifications_queue_url, client("sqs"))


def parking(settings: Settings) -> Any:
    from .adapters.aws_messaging import SqsParking

    return _part(
        settings,
        ParkingSettings,
        "parking",
        lambda: SqsParking(settings.parking_queue_url, client("sqs")),  # type: ignore[attr-defined]
    )


def idempotency_store(settings: IdempotencySettings) -> DynamoDBPersistenceLayer:
    """Powertools idempotency records in the idempotency table."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=client("dynamodb"))


def store_fan_out(stores_at_once: int) -> Any:
    """How the order sync runs its stores: side by side, a thread each (at most `stores_at_once`)."""
    from .adapters.fan_out import ThreadFanOut

    return ThreadFanOut(stores_at_once)


def retention(settings: Settings) -> tuple[Any, Any]:
    """The daily maintenance's adapters: the order store and the buyer-data retention ledger."""
    from .adapters.dynamodb_orders import DynamoDbOrderStore
    from .adapters.dynamodb_retention import DynamoDbRetentionLedger

    table, dynamodb = settings.orders_table, client("dynamodb")
    return DynamoDbOrderStore(table, dynamodb), DynamoDbRetentionLedger(table, dynamodb)


def secret_tags(secret_id: str) -> dict[str, str]:
    """A secret's tags (never its value): e.g. when the LWA client secret was rotated."""
    tags = client("secretsmanager").describe_secret(SecretId=secret_id).get("Tags", [])
    return {t["Key"]: t["Value"] for t in tags if "Key" in t}


def reset() -> None:
    """Forget cached clients and adapters (the local stack calls this between stacks)."""
    _clients.clear()
    for f in (_secret, _store_directory, _marketplace, _commerce):
        f.cache_clear()


def park_bad_input(settings: Settings, body: str, error: Exception, source: str, message_id: str) -> None:
    """Input that can never succeed: log why, count it, and park it in the DLQ with its reason."""
    from aws_lambda_powertools.metrics import MetricUnit

    reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    field = getattr(error, "field", None)
    logger.warning("Input parked", extra={"reason": reason, "source": source, "message_id": message_id, "field": field})
    metrics.add_metric(name="InputParked", unit=MetricUnit.Count, value=1)
    parking(settings).park(body, reason=reason, source=source, field=field)
