"""Amazon's money in Commerce: every proceeds category lands where a merchant looks for it, and the
Commerce grand total is Amazon's order total.

Input: Amazon's own examples from the Orders v2026-01-01 model, loaded unchanged, and variants
made from them in code. Each goes through the real client into the simulated Commerce.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.adapters.sp_api import to_amazon_order
from amazon_channel.domain.commerce_orders import build_draft, resolve_customer
from amazon_channel.domain.errors import AmazonTotalsDisagree, CommerceRejected
from amazon_channel.domain.models import StoreConfig
from amazon_channel_local.simulators import commerce as simulated_commerce
from amazon_channel_local.sp_api_models.schemas import MODELS_DIR

MODEL = json.loads((MODELS_DIR / "orders_2026-01-01.json").read_text())
GET_ORDER = MODEL["paths"]["/orders/2026-01-01/orders/{orderId}"]["get"]["responses"]["200"]
SEARCH_ORDERS = MODEL["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]
STORE = StoreConfig(seller_id="A1SELLER", marketplace_ids=["ATVPDKIKX0DER"])


def _tax_without_detail(order: dict) -> bool:
    return any(
        b["type"] == "TAX" and "detailedBreakdowns" not in b
        for it in order["orderItems"]
        for b in (it.get("proceeds") or {}).get("breakdowns", [])
    )


# Amazon's own orders, as the model gives them.
ECHO_POP = next(
    c["response"]["order"]
    for c in GET_ORDER["x-amzn-api-sandbox"]["static"]
    if _tax_without_detail(c["response"]["order"])
)  # ITEM 39.99 + TAX 10.00, no detail
ECHO_DOT = GET_ORDER["examples"]["application/json"]["order"]  # ITEM, SHIPPING, TAX with detail
WITH_TIP = SEARCH_ORDERS["examples"]["application/json"]["orders"][0]  # two items and a DELIVERY_TIP


@pytest.fixture
def client(store):
    return CommerceRestClient(store.base_url, credentials=lambda: store.credentials)


def imported(client, store, amazon_json: dict) -> dict:
    """Amazon's order read by the channel, booked in Commerce through the client: the stored order."""
    details = to_amazon_order(amazon_json)
    for item in details.items:
        store.set_product(item.sku, name=item.title, price="1.00", qty=100)
    draft = build_draft(details, STORE, resolve_customer(details, STORE, client), status="processing")
    return client._get_order_raw(client.create_order(draft).order_id)


def amazon_total(amazon_json: dict) -> Decimal:
    return Decimal(amazon_json["proceeds"]["grandTotal"]["amount"])


def money(order: dict, *fields: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(order.get(f, 0))).quantize(Decimal("0.01")) for f in fields)


def assert_adds_up_as_magento_does(order: dict) -> None:
    """subtotal + shipping + tax + discount (negative) = grand total, and the items add up to the order."""
    subtotal, shipping, tax, discount, grand = money(
        order, "subtotal", "shipping_amount", "tax_amount", "discount_amount", "grand_total"
    )
    assert subtotal + shipping + tax + discount == grand
    items = order["items"]
    assert sum(money(i, "row_total")[0] for i in items) == subtotal
    assert sum(money(i, "tax_amount")[0] for i in items) + money(order, "shipping_tax_amount")[0] == tax
    assert sum(money(i, "discount_amount")[0] for i in items) + money(order, "shipping_discount_amount")[0] == -discount
    for i in items:
        assert money(i, "row_total_incl_tax") == (money(i, "row_total")[0] + money(i, "tax_amount")[0],)


def variant(extra=(), tax=(), detail_item_tax=False) -> dict:
    """Amazon's Echo Pop order with more proceeds on its item: `extra` (type, amount, details) and
    taxes by subtype; proceedsTotal and grandTotal grow by what is added, as Amazon's would."""
    order = copy.deepcopy(ECHO_POP)
    proceeds = order["orderItems"][0]["proceeds"]
    cur = proceeds["proceedsTotal"]["currencyCode"]
    added = Decimal(0)

    def m(amount) -> dict:
        return {"amount": f"{Decimal(amount):.2f}", "currencyCode": cur}

    for kind, amount, details in extra:
        b = {"type": kind, "subtotal": m(amount)}
        if details:
            b["detailedBreakdowns"] = [{"subtype": s, "value": m(v)} for s, v in details]
        proceeds["breakdowns"].append(b)
        added += Decimal(amount)
    tax_b = next(b for b in proceeds["breakdowns"] if b["type"] == "TAX")
    if tax or detail_item_tax:
        tax_b["detailedBreakdowns"] = [{"subtype": "ITEM", "value": dict(tax_b["subtotal"])}]
        tax_b["detailedBreakdowns"] += [{"subtype": s, "value": m(v)} for s, v in tax]
        added_tax = sum((Decimal(v) for _, v in tax), Decimal(0))
        tax_b["subtotal"] = m(Decimal(tax_b["subtotal"]["amount"]) + added_tax)
        added += added_tax
    proceeds["proceedsTotal"] = m(Decimal(proceeds["proceedsTotal"]["amount"]) + added)
    order["proceeds"]["grandTotal"] = m(amazon_total(order) + added)
    return order


def test_amazons_get_order_example_books_its_tax(client, store):
    # Given Amazon's getOrder example: ITEM 39.99 and TAX 10.00 with no detailed breakdown
    assert amazon_total(ECHO_POP) == Decimal("49.99")
    # When the channel imports it
    order = imported(client, store, ECHO_POP)
    # Then Commerce's grand total is Amazon's, the tax is the item's tax
    assert money(order, "grand_total", "subtotal", "tax_amount", "shipping_amount") == (
        Decimal("49.99"),
        Decimal("39.99"),
        Decimal("10.00"),
        Decimal("0.00"),
    )
    assert money(order["items"][0], "price", "tax_amount", "price_incl_tax") == (
        Decimal("39.99"),
        Decimal("10.00"),
        Decimal("49.99"),
    )
    assert_adds_up_as_magento_does(order)


def test_amazons_detailed_example_puts_shipping_tax_with_shipping(client, store):
    # Given Amazon's getOrder example: 3 x 29.99, shipping 10.00, tax 4.00 = 3.00 on items + 1.00 on shipping
    order = imported(client, store, ECHO_DOT)
    assert money(order, "grand_total") == (amazon_total(ECHO_DOT),) == (Decimal("103.97"),)
    assert money(order, "subtotal", "shipping_amount", "shipping_tax_amount", "shipping_incl_tax", "tax_amount") == (
        Decimal("89.97"),
        Decimal("10.00"),
        Decimal("1.00"),
        Decimal("11.00"),
        Decimal("4.00"),
    )
    assert order["order_currency_code"] == "GBP"
    assert money(order["items"][0], "tax_amount", "row_total") == (Decimal("3.00"), Decimal("89.97"))
    assert_adds_up_as_magento_does(order)


def test_amazons_search_example_books_the_delivery_tip(client, store):
    # Given Amazon's searchOrders example: two items (100.00 and 49.99) and a 5.00 tip on the order
    order = imported(client, store, WITH_TIP)
    assert money(order, "grand_total") == (amazon_total(WITH_TIP),) == (Decimal("154.99"),)
    assert money(order, "shipping_amount", "tax_amount") == (Decimal("5.00"), Decimal("0.02"))
    assert "delivery tip 5.00" in order["shipping_description"]
    assert_adds_up_as_magento_does(order)


@pytest.mark.parametrize(
    "story, extra, tax, expect",
    [
        (
            "a promotion takes 5.00 off the mug",
            [("DISCOUNT", "-5.00", [("ITEM", "-5.00")])],
            [],
            {"grand_total": "44.99", "discount_amount": "-5.00", "item discount_amount": "5.00"},
        ),
        (
            "a promotion with no detail is money off the item",
            [("DISCOUNT", "-5.00", [])],
            [],
            {"grand_total": "44.99", "discount_amount": "-5.00", "item discount_amount": "5.00"},
        ),
        (
            "the promotion also lowers the tax",
            [("DISCOUNT", "-5.00", [("ITEM", "-5.00")])],
            [("DISCOUNT", "-1.25")],
            {"grand_total": "43.74", "discount_amount": "-5.00", "tax_amount": "8.75", "item tax_amount": "8.75"},
        ),
        (
            "the buyer pays for gift wrap, taxed",
            [("GIFT_WRAP", "3.99", [])],
            [("GIFT_WRAP", "0.40")],
            {
                "grand_total": "54.38",
                "shipping_amount": "3.99",
                "shipping_tax_amount": "0.40",
                "tax_amount": "10.40",
                "shipping_description": "gift wrap 3.99",
            },
        ),
        (
            "the buyer pays cash on delivery",
            [("COD_FEE", "2.00", [])],
            [],
            {"grand_total": "51.99", "shipping_amount": "2.00", "shipping_description": "cash on delivery fee 2.00"},
        ),
        (
            "the buyer pays for shipping, taxed",
            [("SHIPPING", "5.99", [])],
            [("SHIPPING", "0.60")],
            {
                "grand_total": "56.58",
                "shipping_amount": "5.99",
                "shipping_tax_amount": "0.60",
                "shipping_incl_tax": "6.59",
                "tax_amount": "10.60",
                "item tax_amount": "10.00",
            },
        ),
        (
            "free shipping as a promotion",
            [("SHIPPING", "5.99", []), ("DISCOUNT", "-5.99", [("SHIPPING", "-5.99")])],
            [],
            {
                "grand_total": "49.99",
                "shipping_amount": "5.99",
                "shipping_discount_amount": "5.99",
                "discount_amount": "-5.99",
                "item discount_amount": "0.00",
            },
        ),
        (
            "another Amazon charge",
            [("OTHER", "1.50", [])],
            [("OTHER", "0.15")],
            {
                "grand_total": "51.64",
                "shipping_amount": "1.50",
                "shipping_tax_amount": "0.15",
                "shipping_description": "other Amazon charges 1.50",
            },
        ),
        (
            "the tax comes with its detail",
            [],
            [],
            {"grand_total": "49.99", "tax_amount": "10.00", "item tax_amount": "10.00"},
        ),
    ],
)
def test_every_proceeds_category_lands_where_the_merchant_looks(client, store, story, extra, tax, expect):
    # Given Amazon's Echo Pop order with one more proceeds category
    amazon = variant(extra, tax, detail_item_tax=True)
    # When the channel imports it
    order = imported(client, store, amazon)
    # Then the Commerce grand total is Amazon's, and each amount is in its field
    assert money(order, "grand_total") == (amazon_total(amazon),)
    for field, wanted in expect.items():
        if field == "shipping_description":
            assert wanted in order[field], story
        elif field.startswith("item "):
            assert money(order["items"][0], field[5:]) == (Decimal(wanted),), story
        else:
            assert money(order, field) == (Decimal(wanted),), story
    assert_adds_up_as_magento_does(order)


def test_a_discount_given_as_a_positive_amount_is_still_money_off(client, store):
    # Given a DISCOUNT of 5.00 with no sign (the model does not give one) and Amazon's total 44.99
    amazon = variant([("DISCOUNT", "-5.00", [])])
    next(b for b in amazon["orderItems"][0]["proceeds"]["breakdowns"] if b["type"] == "DISCOUNT")["subtotal"][
        "amount"
    ] = "5.00"
    amazon["orderItems"][0]["proceeds"].pop("proceedsTotal")
    order = imported(client, store, amazon)
    assert money(order, "grand_total", "discount_amount") == (Decimal("44.99"), Decimal("-5.00"))


def test_an_order_whose_breakdowns_miss_amazons_total_is_not_booked(client, store):
    # Given an item whose proceedsTotal says more than its breakdowns add up to
    amazon = copy.deepcopy(ECHO_POP)
    amazon["orderItems"][0]["proceeds"]["proceedsTotal"]["amount"] = "52.99"
    details = to_amazon_order(amazon)
    # When the channel builds the Commerce order, Then it refuses, naming both figures, and books nothing
    with pytest.raises(AmazonTotalsDisagree, match=r"add up to 49\.99, not Amazon's proceedsTotal 52\.99"):
        build_draft(details, STORE, resolve_customer(details, STORE, client), status="processing")
    assert store.order_count == 0


def test_a_canceled_promoted_gift_wrapped_order_is_refunded_in_full(client, store):
    # Given an imported order with a promotion, gift wrap and shipping
    amazon = variant(
        [
            ("SHIPPING", "4.99", []),
            ("GIFT_WRAP", "3.99", []),
            ("DISCOUNT", "-9.99", [("ITEM", "-5.00"), ("SHIPPING", "-4.99")]),
        ],
        [("GIFT_WRAP", "0.40")],
    )
    order = imported(client, store, amazon)
    assert money(order, "grand_total") == (amazon_total(amazon),) == (Decimal("49.38"),)
    # When the merchant withdraws it before shipping
    ref = client.cancel_order(order["entity_id"], "Out of stock")
    # Then the credit memo refunds everything the buyer paid and Magento closes the order
    after = client._get_order_raw(ref.order_id)
    assert after["state"] == "closed"
    assert money(after, "total_refunded") == (Decimal("49.38"),)


@pytest.mark.parametrize(
    "story, extra, tax",
    [
        ("free but taxed shipping (issue 11, case 11)", [("SHIPPING", "0.00", [])], [("SHIPPING", "0.40")]),
        ("shipping tax with no shipping charge at all", [], [("SHIPPING", "0.40")]),
        ("taxed shipping", [("SHIPPING", "5.99", [])], [("SHIPPING", "0.60")]),
        (
            "taxed gift wrap, cash on delivery and another charge",
            [("GIFT_WRAP", "3.99", []), ("COD_FEE", "2.00", []), ("OTHER", "1.50", [])],
            [("GIFT_WRAP", "0.40"), ("COD_FEE", "0.20"), ("OTHER", "0.15")],
        ),
        (
            "free shipping as a promotion, with the promotion lowering the tax",
            [("SHIPPING", "5.99", []), ("DISCOUNT", "-10.99", [("ITEM", "-5.00"), ("SHIPPING", "-5.99")])],
            [("SHIPPING", "0.60"), ("DISCOUNT", "-1.10")],
        ),
    ],
)
def test_a_cancellation_refunds_everything_amazon_charged_and_closes_the_order(client, store, story, extra, tax):
    # Given an imported order with that money on it
    amazon = variant(extra, tax, detail_item_tax=True)
    order = imported(client, store, amazon)
    assert money(order, "grand_total") == (amazon_total(amazon),), story
    # When Amazon cancels it and the channel withdraws the Commerce order
    ref = client.cancel_order(order["entity_id"], "Canceled on Amazon")
    # Then one credit memo refunds item tax, shipping and its tax, gift wrap and fees: Magento closes the order
    after = client._get_order_raw(ref.order_id)
    assert (after["state"], after["status"]) == ("closed", "closed"), story
    assert money(after, "total_refunded", "tax_refunded", "shipping_tax_refunded") == money(
        order, "grand_total", "tax_amount", "shipping_tax_amount"
    ), story


def test_a_store_that_keeps_part_of_the_money_is_not_taken_for_withdrawn(client, store, monkeypatch):
    # Given a store whose credit memos leave the shipping tax (not Magento 2.4's rule: a customization)
    monkeypatch.setattr(simulated_commerce, "_shipping_tax_to_refund", lambda order, shipping: (Decimal(0), True))
    order = imported(client, store, variant([("SHIPPING", "0.00", [])], [("SHIPPING", "0.40")], detail_item_tax=True))
    # When the channel withdraws the order, Then it says what is left to refund, and where
    with pytest.raises(
        CommerceRejected,
        match=r"refunded 49.99 of the 50.39 paid and left complete: "
        r"refund the remaining 0.40 in Commerce",
    ):
        client.cancel_order(order["entity_id"], "Canceled on Amazon")
