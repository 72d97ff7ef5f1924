"""A promoted, gift-wrapped order end to end on the embedded stack: the real handlers and state
machine, the simulated Amazon and Commerce. Commerce's grand total is what the buyer paid Amazon."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, orders

SCENARIO = {
    "name": "amazon money",
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 100}],
    "steps": [],
}


@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_amazon_money_on_the_stack.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        yield p
        end_waiting_workflows(p)


def test_a_promoted_gift_wrapped_order_is_booked_at_amazons_total_and_refunded_in_full(player):
    # Given a buyer paid 2 mugs at 12.50 (tax 2.00) less a 5.00 promotion (tax -0.40), gift wrap
    # 3.99 (tax 0.32) and shipping 4.99 (tax 0.40), made free by a promotion
    oid = "113-0000000-0000888"
    order = {
        "id": oid,
        "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
        "items": [
            {
                "sku": "MUG-01",
                "qty": 2,
                "price": "12.50",
                "tax": "2.00",
                "discount": "5.00",
                "discount_tax": "-0.40",
                "gift_wrap": "3.99",
                "gift_wrap_tax": "0.32",
            }
        ],
        "shipping": {"price": "4.99", "tax": "0.40", "discount": "4.99"},
    }
    place = Step(0, "amazon.place_order", {"order": order})  # simulator options: not in the scenario format
    player.scenario.steps.append(place)
    player.run(place)
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    player.stack.settle()
    # When the channel has imported it
    result = next(o for o in player.result()["orders"] if o["amazon_order_id"] == oid)
    # Then Commerce's grand total is Amazon's order total, as the Orders view shows it too
    paid = Decimal("25.00") + Decimal("1.60") - Decimal("5.00") + Decimal("3.99") + Decimal("0.32") + Decimal("0.40")
    assert result["commerce_order"]["grand_total"] == f"{paid:.2f}" == "26.31"
    assert orders(player).get(oid).details.order_total == paid
    booked = player.commerce._orders[player.commerce.order_by_ext_id(oid)["order_id"]]
    assert (booked["discount_amount"], booked["shipping_discount_amount"], booked["shipping_amount"]) == (
        Decimal("-9.99"),
        Decimal("4.99"),
        Decimal("8.98"),
    )
    assert "gift wrap 3.99" in booked["shipping_description"]
    # And when the merchant cancels it before shipping, the credit memo refunds all of it
    player.run(Step(0, "commerce.cancel", {"order_id": oid, "reason": "Damaged in the warehouse"}))
    player.stack.settle()
    assert player.commerce.order_by_ext_id(oid)["status"] == "closed"
    assert booked["total_refunded"] == paid


def test_amazon_cancels_an_order_with_free_but_taxed_shipping_and_commerce_closes_it(player):
    # Given an imported order whose shipping is free but taxed: shipping 0.00, shipping tax 0.40
    oid = "113-0000000-0000889"
    order = {
        "id": oid,
        "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
        "items": [{"sku": "MUG-01", "qty": 2, "price": "12.50", "tax": "2.00"}],
        "shipping": {"price": "0.00", "tax": "0.40"},
    }
    place = Step(0, "amazon.place_order", {"order": order})
    player.scenario.steps.append(place)
    player.run(place)
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    player.stack.settle()
    booked = player.commerce._orders[player.commerce.order_by_ext_id(oid)["order_id"]]
    assert (booked["grand_total"], booked["shipping_amount"], booked["shipping_tax_amount"]) == (
        Decimal("27.40"),
        Decimal("0"),
        Decimal("0.40"),
    )
    # When Amazon cancels it
    player.run(Step(0, "amazon.cancel", {"order_id": oid}))
    player.stack.settle()
    # Then the credit memo refunds all the buyer paid, the shipping tax included, and Magento closes the order
    result = next(o for o in player.result()["orders"] if o["amazon_order_id"] == oid)
    assert (result["channel_status"], result["commerce_order"]["status"]) == ("Canceled", "closed")
    assert (booked["total_refunded"], booked["shipping_tax_refunded"]) == (Decimal("27.40"), Decimal("0.40"))
    assert result["notes"].startswith("Canceled on Amazon; Commerce order") and "closed" in result["notes"]
