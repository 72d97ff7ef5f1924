"""Stories of Commerce orders withdrawn through the REST client: Magento's rules for canceling an
order, the offline credit memo for an invoiced one, and no half-made order ever left behind."""

from decimal import Decimal

import pytest

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.domain.errors import CommerceRejected
from amazon_channel.domain.models import Address, CommerceOrderDraft, CommerceOrderLine, CommerceShipment
from amazon_channel_local.simulators.commerce import CREDITMEMO_EVENT, ORDER_CANCEL_EVENT, detail_type

AMAZON_ORDER = "111-0000001-0000001"
WHY = "Amazon channel: Amazon order 111-0000001-0000001 was canceled on Amazon."


@pytest.fixture
def client(store):
    return CommerceRestClient(store.base_url, credentials=lambda: store.credentials, sleep=lambda s: None)


def draft(amazon_order_id=AMAZON_ORDER, **overrides):
    address = Address(name="Ana Lima", line1="1 Main St", city="Austin", region="TX", postcode="73301", country="US")
    values = {
        "amazon_order_id": amazon_order_id,
        "customer_email": "ana@marketplace.amazon.com",
        "customer_firstname": "Ana",
        "customer_lastname": "Lima",
        "billing_address": address,
        "shipping_address": address,
        "lines": [
            CommerceOrderLine(
                sku="MUG-RED",
                name="Red mug",
                qty=2,
                price=Decimal("9.50"),
                tax=Decimal("1.52"),
                amazon_order_item_id="OI-1",
            ),
            CommerceOrderLine(
                sku="TEA-1KG",
                name="Tea 1kg",
                qty=1,
                price=Decimal("28.00"),
                tax=Decimal("0"),
                amazon_order_item_id="OI-2",
            ),
        ],
        "shipping_amount": Decimal("4.99"),
        "shipping_tax": Decimal("0.40"),
    }
    values.update(overrides)
    return CommerceOrderDraft(**values)


def test_an_invoiced_order_is_withdrawn_by_one_offline_credit_memo_and_closed(client, store, events):
    # Given an Amazon order in Commerce, invoiced (paid on Amazon), not shipped
    ref = client.create_order(draft())
    assert (ref.state, ref.qty_ordered, ref.qty_open, ref.qty_withdrawn) == ("processing", 3, 3, 0)
    # When the channel withdraws it, twice (a retry)
    first = client.cancel_order(ref.order_id, WHY)
    again = client.cancel_order(ref.order_id, WHY)
    # Then Magento could not cancel it (invoiced): one credit memo refunded everything offline, the
    # stock came back, the order is closed, the comment is there once, and no email went out
    assert (first.state, first.status, first.qty_open, first.qty_withdrawn) == ("closed", "closed", 0, 3)
    assert again.state == "closed"
    [memo] = store.credit_memos(AMAZON_ORDER)
    assert memo["grand_total"] == 53.91  # what Amazon charged: 2 x 9.50 + 1.52 tax, 28.00, shipping 4.99 + 0.40
    assert store.order_by_ext_id(AMAZON_ORDER)["grand_total"] == "53.91"
    assert (store.product("MUG-RED")["salable_qty"], store.product("TEA-1KG")["salable_qty"]) == (10, 5)
    assert (store.product("MUG-RED")["qty"], store.product("TEA-1KG")["qty"]) == (10, 5)
    assert store.comments(AMAZON_ORDER).count(WHY) == 1
    assert store.order_by_ext_id(AMAZON_ORDER)["emails_sent_to_customer"] == 0
    assert [e["DetailType"] for e in events] == [detail_type(CREDITMEMO_EVENT)]
    # And Magento's cancel endpoint itself answers false for such an order
    assert client._once("POST", f"/V1/orders/{ref.order_id}/cancel") is False


def test_an_order_with_shipped_items_is_not_withdrawn(client, store):
    ref = client.create_order(draft())
    client.ship_order(
        ref.order_id,
        CommerceShipment(order_id=ref.order_id, carrier="UPS", tracking_number="1Z1", items=[("MUG-RED", 1)]),
    )
    with pytest.raises(CommerceRejected, match="has shipped items"):
        client.cancel_order(ref.order_id, WHY)
    assert store.credit_memos(AMAZON_ORDER) == []


def test_an_invoice_commerce_refuses_leaves_a_canceled_order_never_an_open_unpaid_one(client, store, events):
    # When Commerce saves the order but refuses its invoice
    store.fail_next("POST", "/V1/order/", 400)
    with pytest.raises(CommerceRejected, match="canceled so that no uninvoiced order is left"):
        client.create_order(draft())
    # Then the saved order is canceled (Magento could: nothing was invoiced), with a comment, stock back
    order = store.order_by_ext_id(AMAZON_ORDER)
    assert (order["state"], order["invoiced"]) == ("canceled", False)
    assert any("Commerce refused the invoice" in c for c in store.comments(AMAZON_ORDER))
    mugs = store.product("MUG-RED")
    assert (mugs["qty"], mugs["min_qty"], mugs["in_stock"]) == (10, 0, True)  # the hold is released
    store.create_compensations()  # the merchant's scheduled command nets MSI's cancel compensation
    assert store.product("MUG-RED")["salable_qty"] == 10
    assert [e["DetailType"] for e in events] == [detail_type(ORDER_CANCEL_EVENT)]
    # And importing the Amazon order again makes a new, invoiced order rather than reusing the canceled one
    again = client.create_order(draft())
    assert again.order_id != order["order_id"] and again.state == "processing"
    assert store.order_count == 2


def test_a_new_import_after_a_canceled_half_made_order_gets_the_amazon_number_with_a_suffix(client, store):
    store.fail_next("POST", "/V1/order/", 400)
    with pytest.raises(CommerceRejected):
        client.create_order(draft(increment_id=AMAZON_ORDER))
    ref = client.create_order(draft(increment_id=AMAZON_ORDER))
    assert ref.increment_id == f"{AMAZON_ORDER}-2"


def test_the_merchants_reason_is_the_newest_comment_the_channel_did_not_write(client, store):
    ref = client.create_order(draft())
    client.add_comment(ref.order_id, "Amazon channel: something the channel said")
    store.merchant_cancel(ext_order_id=AMAZON_ORDER, reason="Out of stock")
    client.add_comment_once(ref.order_id, "Amazon channel: a reply")
    client.add_comment_once(ref.order_id, "Amazon channel: a reply")
    ref = client.get_order(ref.order_id)
    assert ref.merchant_comment == "Out of stock"
    assert store.comments(AMAZON_ORDER).count("Amazon channel: a reply") == 1
