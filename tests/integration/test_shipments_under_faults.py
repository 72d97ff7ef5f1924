"""Shipments under faults (issue 11, cases 1-5): whatever fails between the merchant's shipment in
Commerce and Amazon, the package reaches Amazon exactly once and the order ends Shipped.

One embedded stack serves the module; each story places its own order. Faults are injected with the
stack's hooks: the simulated Amazon applies a call and loses its answer, a Lambda invocation times
out at a chosen moment (`Sandbox.Timedout`), an AWS call fails after the SDK's retries.
"""

from __future__ import annotations

import io
import itertools

import pytest

import stack_stories
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, merchant_ships, orders

SCENARIO = {
    "name": "shipments under faults",
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000}],
    "steps": [],
}
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_shipments_under_faults.py"), log_stream=io.StringIO()) as p:
        yield p


@pytest.fixture(autouse=True)
def _each_story(player):
    yield
    end_waiting_workflows(player)


def a_paid_order(player: Player, oid: str | None = None) -> str:
    oid = oid or f"115-{next(_numbers):07d}-3000003"
    return stack_stories.a_paid_order(player, oid, ("Rita Ramos", f"rita{oid[4:11]}@example.com"))


def an_imported_order(player: Player) -> str:
    """The order is in Commerce and its workflow waits for the merchant to ship."""
    oid = a_paid_order(player)
    player.stack.settle()
    return oid


def the_order(player: Player, oid: str) -> dict:
    return next(o for o in player.result()["orders"] if o["amazon_order_id"] == oid)


def messages(player: Player, oid: str) -> list[str]:
    return [h.message for h in orders(player).history(oid)]


def assert_shipped_once(player: Player, oid: str) -> None:
    """Amazon has the package once, the channel recorded it once, and the order is Shipped."""
    order = the_order(player, oid)
    assert player.amazon.order_status(oid) == "Shipped"
    assert len(player.amazon.shipment_confirmations(oid)) == 1
    assert order["channel_status"] == "Shipped", order["notes"]
    stored = orders(player).get(oid)
    assert len(stored.shipments) == 1 and stored.shipments[0].confirmed_at
    assert stored.confirm_lease is None and stored.task_token is None
    recorded = [m for m in messages(player, oid) if m.startswith("Package ")]
    assert len(recorded) == 1, recorded


# -- 1. Amazon applied the confirmation, the client saw HTTP 500 -------------------------------------
def test_a_confirmation_amazon_applied_but_whose_answer_was_lost_ends_shipped(player):
    oid = an_imported_order(player)  # Given an order waiting for the merchant
    player.amazon.fail_next("confirmShipment", 500, after_effect=True)  # and Amazon will lose its next answer
    merchant_ships(player, oid)  # When the merchant ships
    player.stack.settle()
    assert_shipped_once(player, oid)  # Then the refused retry is settled by reading the order back
    assert any("found on Amazon (getOrder)" in m for m in messages(player, oid))
    assert player.amazon.duplicate_confirmations == 1, "the client's own retry was refused as a duplicate"


# -- 2. The Lambda timed out after Amazon accepted ---------------------------------------------------
def test_a_confirmation_whose_lambda_timed_out_after_amazon_accepted_ends_shipped(player):
    oid = an_imported_order(player)  # Given an order waiting for the merchant
    amazon = player.amazon
    # and ConfirmShipments (a 1-second timeout) is stopped the moment Amazon has the package
    player.stack.timeout_next(
        "ConfirmShipmentsFunction", timeout_s=1.0, when=lambda: len(amazon.shipment_confirmations(oid)) > 0
    )
    before = amazon.duplicate_confirmations
    merchant_ships(player, oid)  # When the merchant ships
    player.stack.settle()
    assert_shipped_once(player, oid)  # Then the retry waits for the dead invocation's lease, looks, and records
    assert amazon.duplicate_confirmations == before
    timed_out = [
        i
        for i in player.stack.invocations
        if i["logical_id"] == "ConfirmShipmentsFunction" and (i["error"] or "").startswith("Sandbox.Timedout")
    ]
    assert len(timed_out) == 1


# -- 3. Two confirmations of one order overlap ---------------------------------------------------------
def test_the_sweep_and_the_workflow_acting_on_one_order_confirm_it_once(player):
    """(Two invocations cannot overlap in-process, the runtime runs one at a time: the true overlap,
    a second confirmation while the first waits for Amazon, is tests/unit/test_shipment_confirmations.py.)"""
    oid = an_imported_order(player)  # Given an order waiting for the merchant
    amazon = player.amazon
    before = amazon.duplicate_confirmations
    # When the sync's sweep runs while the workflow's confirmation of the same package is under way
    swept: list[dict] = []
    player.stack.hold("ConfirmShipmentsFunction")
    try:
        merchant_ships(player, oid)
        player.stack.pump()
        swept.append(player.stack.invoke("OrderSyncFunction", {"trigger": "schedule"}))
    finally:
        player.stack.release("ConfirmShipmentsFunction")
    player.stack.settle()
    assert_shipped_once(player, oid)  # Then Amazon has the package once
    assert amazon.duplicate_confirmations == before
    finished = dict(map(tuple, swept[0]["stores"][0]["shipments_finished"]))
    assert finished.get(oid) in ("woken", "confirmed"), finished


# -- 4. SendTaskSuccess throttled after the shipment was recorded --------------------------------------
def test_a_throttled_wake_up_is_repeated_by_the_redelivered_shipment_event(player):
    oid = an_imported_order(player)  # Given an order waiting for the merchant
    player.stack.aws_faults.fail_next(
        "sfn", "SendTaskSuccess", error="ThrottlingException", status=400
    )  # and SendTaskSuccess throttled once
    merchant_ships(player, oid)  # When the merchant ships
    player.stack.settle()
    assert_shipped_once(player, oid)  # Then SQS redelivers the event, which wakes the workflow again


def test_a_wake_up_that_keeps_failing_is_finished_by_the_order_sync(player):
    oid = an_imported_order(player)  # Given an order waiting for the merchant
    # and every delivery of the shipment event fails to wake the workflow (it ends in the DLQ)
    player.stack.aws_faults.fail_next("sfn", "SendTaskSuccess", error="ThrottlingException", status=400, count=5)
    merchant_ships(player, oid)
    player.stack.settle()
    assert orders(player).get(oid).to_confirm  # the shipment stays recorded as "to confirm"
    assert player.amazon.order_status(oid) == "Unshipped"
    player.run(Step(0, "poll", {}))  # When the order sync runs
    player.stack.settle()
    assert_shipped_once(player, oid)  # Then its sweep wakes the workflow, which confirms the package
    assert "Workflow resumed by the order sync: shipments waited to be confirmed" in messages(player, oid)


# -- 5. An adopted Commerce order is a full citizen ------------------------------------------------------
def test_an_order_whose_create_timed_out_after_commerce_saved_it_sends_its_shipment_to_amazon(player):
    commerce = player.commerce
    oid = f"115-{next(_numbers):07d}-3000003"
    # Given CreateCommerceOrder is stopped the moment Commerce has saved the order
    player.stack.timeout_next("CreateCommerceOrderFunction", when=lambda: commerce.order_by_ext_id(oid) is not None)
    a_paid_order(player, oid)
    player.stack.settle()
    assert the_order(player, oid)["channel_status"] == "Error"  # the order shows Error
    assert orders(player).get(oid).commerce is None
    # When the merchant ships the Commerce order, and the sync's retry adopts it
    commerce.merchant_ship(ext_order_id=oid, carrier="UPS", tracking_number=f"1Z{oid[4:11]}")
    player.stack.settle()
    player.run(Step(0, "poll", {}))
    player.stack.settle()
    # Then its shipment goes to Amazon, once, and the order is complete on both sides
    assert_shipped_once(player, oid)
    assert player.result()["commerce_order_count"] >= 1
    assert the_order(player, oid)["commerce_order"]["status"] == "complete"
    assert len([o for o in commerce.orders() if o.get("ext_order_id") == oid]) == 1
