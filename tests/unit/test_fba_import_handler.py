"""The FBA import function with an order Commerce refuses: Error, OrdersBlocked, nothing parked."""

import importlib.util
import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from amazon_channel import runtime
from amazon_channel.domain.errors import CommerceRejected
from amazon_channel.domain.models import AmazonStatus, ChannelOrder, ChannelStatus
from fakes import channel_ports
from function_env import function_environment

SAMPLE = Path(__file__).resolve().parents[2] / "events" / "fba_order_import" / "fba-order-shipped.json"


@pytest.fixture
def function(monkeypatch):
    for name, value in function_environment("fba_order_import").items():  # its cold start reads them
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(
        "fba_order_import_app", Path(__file__).resolve().parents[2] / "functions" / "fba_order_import" / "app.py"
    )
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(app, "_import_order_once", app._import)  # no idempotency table here
    parked = []
    monkeypatch.setattr(runtime, "park_bad_input", lambda settings, body, e, **kw: parked.append(str(e)))
    app.parked = parked
    return app


def test_an_fba_order_commerce_refuses_fires_orders_blocked_and_is_not_parked(function, monkeypatch):
    record = json.loads(SAMPLE.read_text())["Records"][0]
    oid = json.loads(record["body"])["detail"]["amazon_order_id"]
    ports = channel_ports()
    ports.marketplace.add(oid, fulfillment="AFN")
    ports.orders.put_new(
        ChannelOrder(
            amazon_order_id=oid,
            seller_id=ports.stores.store.seller_id,
            marketplace_id=ports.stores.store.marketplace_ids[0],
            fulfillment="AFN",
            amazon_status=AmazonStatus.SHIPPED,
            amazon_status_at="2026-11-26T10:00:00Z",
            channel_status=ChannelStatus.SHIPPED,
            version=1,
            created_at="2026-11-26T10:00:00Z",
            updated_at="2026-11-26T10:00:00Z",
        ),
        [],
    )
    ports.commerce.create_order = lambda draft: (_ for _ in ()).throw(
        CommerceRejected('Product "MUG-01" cannot be ordered: disabled.')
    )
    monkeypatch.setattr(runtime, "ports", lambda settings: ports)
    # Given an FBA order Amazon shipped, whose product Commerce has disabled; When its import runs
    assert function.record_handler(SQSRecord(record)) == {"result": "blocked"}
    # Then the order shows Error naming the SKU, OrdersBlocked fires once, and nothing is parked
    assert ports.orders.get(oid).channel_status == ChannelStatus.ERROR
    assert "OrdersBlocked" in function.metrics.metric_set and function.parked == []
    function.metrics.clear_metrics()
    # And a second delivery changes nothing and fires nothing
    assert function.record_handler(SQSRecord(record)) == {"result": "blocked"}
    assert "OrdersBlocked" not in function.metrics.metric_set and function.parked == []


def test_an_event_without_an_order_in_its_detail_is_parked_at_once_with_its_reason(function):
    # Given an FbaOrderShipped event whose detail is null (EventBridge's envelope then holds no order)
    record = json.loads(SAMPLE.read_text())["Records"][0]
    body = json.loads(record["body"])
    body["detail"] = None
    record["body"] = json.dumps(body)
    # When the import function reads it, Then it is parked with a reason, not retried until the DLQ
    assert function.record_handler(SQSRecord(record)) is None
    [reason] = function.parked
    assert "detail" in reason
