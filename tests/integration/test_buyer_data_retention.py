"""Buyer data retention on the embedded stack: the daily maintenance function removes the buyer's
name, email, phone and address from every copy in the orders table once the order ended more than
`PiiRetentionDays` (30) ago, and the Orders view still lists the order.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from amazon_channel.domain import clock
from amazon_channel.domain.orders_view import BUYER_REMOVED
from amazon_channel_local.http_api import HttpApiAdapter
from amazon_channel_local.player import DEFAULT_SELLER, Player
from amazon_channel_local.scenario import parse
from stack_stories import end_waiting_workflows

ANA = {"name": "Ana Souza", "email": "ana.souza@example.com"}
ANA_ADDRESS = {
    "name": "Ana Souza",
    "line1": "1 Main St",
    "line2": "Apt 4",
    "city": "Seattle",
    "region": "WA",
    "postcode": "98101",
    "country": "US",
    "phone": "+1 206 555 0100",
}
BEN = {"name": "Ben Okafor", "email": "ben.okafor@example.com"}
BEN_ADDRESS = {
    "name": "Ben Okafor",
    "line1": "9 Elm Rd",
    "city": "Portland",
    "region": "OR",
    "postcode": "97201",
    "country": "US",
    "phone": "+1 503 555 0199",
}
SHIPPED, CANCELED, WAITING = "113-0000000-0000701", "113-0000000-0000702", "113-0000000-0000703"
PII = {
    SHIPPED: ("Ana Souza", "ana.souza@example.com", "1 Main St", "Apt 4", "Seattle", "98101", "555 0100"),
    CANCELED: ("Ben Okafor", "ben.okafor@example.com", "9 Elm Rd", "Portland", "97201", "555 0199"),
    WAITING: ("Ana Souza", "ana.souza@example.com", "1 Main St", "98101", "555 0100"),
}

SCENARIO = {
    "name": "buyer data retention",
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 100}],
    "steps": [
        {
            "do": "amazon.place_order",
            "order": {
                "id": SHIPPED,
                "buyer": ANA,
                "ship_to": ANA_ADDRESS,
                "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
            },
        },
        {
            "do": "amazon.place_order",
            "order": {
                "id": CANCELED,
                "buyer": BEN,
                "ship_to": BEN_ADDRESS,
                "items": [{"sku": "MUG-01", "qty": 2, "price": "12.50"}],
            },
        },
        {
            "do": "amazon.place_order",
            "order": {
                "id": WAITING,
                "buyer": ANA,
                "ship_to": ANA_ADDRESS,
                "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
            },
        },
        {"do": "amazon.verify_payment", "order_id": SHIPPED},
        {"do": "amazon.verify_payment", "order_id": CANCELED},
        {"do": "amazon.verify_payment", "order_id": WAITING},
        {"do": "poll"},  # the sync keeps the searched order (buyer and address included) on the channel order
        {"do": "settle"},
        {"do": "commerce.ship", "order_id": SHIPPED, "carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
        {"do": "amazon.cancel", "order_id": CANCELED},
        {"do": "settle"},
    ],
}


@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_buyer_data_retention.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        p.play()
        yield p
        end_waiting_workflows(p)


def items_of(player: Player, oid: str) -> list[dict]:
    """Every item of the orders table that concerns the order (its own items and any entry naming it)."""
    table, dynamodb = player.stack.resources["OrdersTable"], player.stack.client("dynamodb")
    found, kwargs = [], {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)  # the test looks everywhere; the product never scans
        found += [i for i in page["Items"] if oid in json.dumps(i)]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def personal_data_left(player: Player, oid: str) -> list[str]:
    text = json.dumps(items_of(player, oid))
    return [needle for needle in PII[oid] if needle in text]


def run_daily_maintenance(player: Player, monkeypatch, days_later: int) -> dict:
    """The scheduled run, `days_later` days from now."""
    then = clock.now() + timedelta(days=days_later)
    with player.stack.runtime.container("DailyMaintenanceFunction"):  # the function's own clock module
        from amazon_channel.domain import clock as its_clock
    monkeypatch.setattr(its_clock, "now", lambda: then)
    return player.stack.invoke("DailyMaintenanceFunction", {"trigger": "schedule"})


def listed(player: Player) -> dict[str, dict]:
    status, page = HttpApiAdapter(player.stack, "OrdersViewFunction").get_json(
        "/orders", {"seller_id": DEFAULT_SELLER, "limit": "100"}
    )
    assert status == 200
    return {row["amazon_order_id"]: row for row in page["orders"]}


def test_the_buyers_data_stays_until_the_retention_period_has_passed(player, monkeypatch):
    # Given an order shipped and one canceled today, and one still waiting for the merchant
    result = {o["amazon_order_id"]: o["channel_status"] for o in player.result()["orders"]}
    assert (result[SHIPPED], result[CANCELED], result[WAITING]) == ("Shipped", "Canceled", "Unshipped")
    for oid in (SHIPPED, CANCELED, WAITING):
        assert personal_data_left(player, oid) == list(PII[oid]), oid  # every kind of copy is there to remove
    # When the daily maintenance runs 29 days later (retention: 30 days)
    report = run_daily_maintenance(player, monkeypatch, days_later=29)
    # Then nothing is removed yet
    assert report["retention"]["removed"] == 0
    for oid in (SHIPPED, CANCELED, WAITING):
        assert personal_data_left(player, oid) == list(PII[oid]), oid
    assert listed(player)[SHIPPED]["buyer_name"] == "Ana Souza"


def test_thirty_one_days_after_the_order_ended_no_buyer_data_remains(player, monkeypatch):
    # Given the shipped and the canceled order ended 31 days ago
    # When the daily maintenance runs
    report = run_daily_maintenance(player, monkeypatch, days_later=31)
    # Then no name, email, phone or address of their buyers remains anywhere in the orders table:
    # the order, its history, the notifications kept beside it, the searched order kept on it
    assert report["retention"]["removed"] == 2
    assert personal_data_left(player, SHIPPED) == []
    assert personal_data_left(player, CANCELED) == []
    # And the order still waiting to ship keeps its buyer's data: it has not ended
    assert personal_data_left(player, WAITING) == list(PII[WAITING])
    # And the Orders view still lists the ended orders, with a placeholder for the buyer's name
    rows = listed(player)
    assert (rows[SHIPPED]["status"], rows[SHIPPED]["buyer_name"]) == ("Shipped", BUYER_REMOVED)
    assert (rows[CANCELED]["status"], rows[CANCELED]["buyer_name"]) == ("Canceled", BUYER_REMOVED)
    assert rows[SHIPPED]["grand_total"] == "12.50" and rows[SHIPPED]["commerce_order_number"]
    assert rows[WAITING]["buyer_name"] == "Ana Souza"
    status, detail = HttpApiAdapter(player.stack, "OrdersViewFunction").get_json(f"/orders/{SHIPPED}")
    assert status == 200 and detail["ship_to"] is None
    assert detail["history"][-1]["message"].startswith("Buyer name, email, phone and address removed")
    # And a second run changes nothing (each order's data is removed once)
    again = run_daily_maintenance(player, monkeypatch, days_later=32)
    assert again["retention"] == {"removed": 0, "skipped": 0, "documents": 0, "failed": []}
