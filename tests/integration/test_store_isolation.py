"""One store's trouble stays with that store, on the embedded stack: three seller accounts share the
channel (one notifications queue, one order sync, one workflow), each with its own Amazon quotas
and refresh token. A store whose getOrder quota is used up by a backlog, or whose seller revoked
the app's authorisation, never holds back the healthy store's orders.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from typing import Any

import pytest

from amazon_channel.adapters.rate_budget import DynamoDbRateBudget
from amazon_channel.adapters.sp_api import OPERATIONS
from amazon_channel_local.player import DEFAULT_SELLER, Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import a_quiet_spell, end_waiting_workflows, orders

SCENARIO = {
    "name": "store isolation",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce"},
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000}],
    "steps": [],
}
BACKLOG_SELLER, REVOKED_SELLER = "A4BACKLOGSELLR", "A5REVOKEDSELLR"
PROMPTLY_SECONDS = 15.0  # wall time for a healthy order to reach Commerce (it needs about 1 s alone)
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_store_isolation.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        for seller, store_view in ((BACKLOG_SELLER, 2), (REVOKED_SELLER, 3)):
            connect_store(p, seller, store_view)
        revoke_authorisation(p, REVOKED_SELLER)
        yield p


@pytest.fixture(autouse=True)
def quiet_spell(player):
    """Each story starts with Amazon's quotas and the channel's budgets full (as after a quiet spell)."""
    a_quiet_spell(player)


@pytest.fixture(autouse=True)
def _each_story(player):
    yield
    end_waiting_workflows(player)


def connect_store(player: Player, seller: str, store_view: int) -> None:
    """Another seller account (Amazon.com) connected to its own Commerce store view."""
    player.amazon.add_seller(seller)
    store = {
        "seller_id": seller,
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "commerce_store_id": store_view,
        "connected_at": player.connected_at,
    }
    player.stack.client("dynamodb").put_item(
        TableName=player.stack.resources["StoresTable"],
        Item={"id": {"S": seller}, "value": {"S": json.dumps(store)}},
    )


def revoke_authorisation(player: Player, seller: str) -> None:
    """The seller removed the app in Seller Central: the refresh token the channel holds is refused
    by LWA (invalid_grant). The other sellers' tokens stay good."""
    creds = player.amazon.credentials
    creds["refresh_tokens"][seller] = "Atzr|revoked-by-the-seller"
    player.stack.client("secretsmanager").put_secret_value(
        SecretId=player.stack.resources["SpApiCredentialsSecret"], SecretString=json.dumps(creds)
    )


def use_up_get_order_quota(player: Player, seller: str) -> None:
    """A backlog has taken every getOrder token of the store's rate budget (0.5/s, burst 30)."""
    _method, _path, rate, burst = OPERATIONS["getOrder"]
    budget = DynamoDbRateBudget(player.stack.resources["OrdersTable"], player.stack.client("dynamodb"))
    while budget.acquire(f"{seller}#getOrder", rate, burst) == 0.0:
        pass


def a_paid_order(player: Player, seller: str) -> str:
    """A buyer orders a mug from the seller and Amazon verifies the payment; notifications queued."""
    oid = f"116-{next(_numbers):07d}-4000004"
    order: dict[str, Any] = {"id": oid, "buyer": {"name": "Ana Souza", "email": f"ana{oid[4:11]}@example.com"}}
    order["items"] = [{"sku": "MUG-01", "qty": 1, "price": "12.50"}]
    place = parse({"steps": [{"do": "amazon.place_order", "order": order}]}, "story").steps[0]
    player.scenario.steps.append(place)  # so that player.result() reports it
    if seller == DEFAULT_SELLER:
        player.run(place)
    else:
        player.amazon.place_order({**order, "seller_id": seller})
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    return oid


def seconds_until_in_commerce(player: Player, oid: str, limit: float = 60.0) -> float:
    """Run the stack (queues, workflows) until Commerce has the order; the wall seconds it took."""
    began = time.monotonic()
    while player.commerce.order_by_ext_id(oid) is None:
        if time.monotonic() - began > limit:
            raise AssertionError(f"{oid} not in Commerce after {limit:.0f} s")
        if not player.stack.pump():
            time.sleep(0.02)
    return time.monotonic() - began


def test_a_store_whose_quota_a_backlog_used_up_does_not_delay_another_stores_order(player):
    use_up_get_order_quota(player, BACKLOG_SELLER)  # Given a store whose getOrder quota a backlog used up
    waiting = [a_paid_order(player, BACKLOG_SELLER) for _ in range(6)]  # with its orders queued first
    healthy = a_paid_order(player, DEFAULT_SELLER)  # and then an order of the healthy store
    took = seconds_until_in_commerce(player, healthy)  # When the stack runs
    assert took < PROMPTLY_SECONDS  # Then the healthy order is in Commerce promptly
    behind = [oid for oid in waiting if player.commerce.order_by_ext_id(oid) is None]
    assert behind, "the backlog store's orders wait for their own quota, not the healthy store's"
    player.stack.settle()  # and the backlog store's orders come in as its own quota refills
    assert all(player.commerce.order_by_ext_id(oid) for oid in waiting)
    assert {orders(player).get(oid).channel_status.value for oid in waiting} == {"Unshipped"}


def test_a_store_whose_seller_revoked_the_app_does_not_delay_another_stores_order(player):
    refused = a_paid_order(player, REVOKED_SELLER)  # Given a store whose refresh token LWA refuses
    healthy = a_paid_order(player, DEFAULT_SELLER)  # and an order of a healthy store queued after its order
    assert seconds_until_in_commerce(player, healthy) < PROMPTLY_SECONDS  # Then the healthy order comes in
    player.stack.settle()
    order = orders(player).get(refused)  # and the refused store's order shows Error with the reason
    assert order.channel_status.value == "Error" and "invalid_grant" in order.notes
    assert player.commerce.order_by_ext_id(refused) is None


def test_the_sync_reads_each_store_on_its_own_and_a_revoked_store_fails_alone(player):
    before = a_paid_order(player, BACKLOG_SELLER)
    player.stack.settle()
    player.run(Step(0, "amazon.lose_notifications", {"enabled": True}))
    lost = {s: a_paid_order(player, s) for s in (DEFAULT_SELLER, BACKLOG_SELLER)}  # Given lost orders in two stores
    player.run(Step(0, "amazon.lose_notifications", {"enabled": False}))
    reports = {s["seller_id"]: s for s in player.poll()["stores"]}  # When the sync runs (stores side by side)
    player.stack.settle()
    assert reports[REVOKED_SELLER]["result"] == "failed" and "invalid_grant" in reports[REVOKED_SELLER]["reason"]
    assert reports[DEFAULT_SELLER]["result"] == reports[BACKLOG_SELLER]["result"] == "complete"
    assert all(player.commerce.order_by_ext_id(oid) for oid in [before, *lost.values()])  # Then theirs come in
