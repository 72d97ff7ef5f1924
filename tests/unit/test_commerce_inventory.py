"""Stories of a merchant's stock in Commerce as Amazon orders come in, ship, and are withdrawn.

Physical quantity: the source's quantity (the shelf). Salable quantity: what the store can still
sell (MSI: source quantity + reservations - out-of-stock threshold).
"""

from decimal import Decimal

import pytest

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.domain.errors import CommerceUnavailable
from amazon_channel.domain.models import Address, CommerceOrderDraft, CommerceOrderLine, CommerceShipment

AMAZON_ORDER = "111-0000001-0000001"


@pytest.fixture
def client(store):
    return CommerceRestClient(store.base_url, credentials=lambda: store.credentials, sleep=lambda s: None)


def draft(fulfillment="MFN", qty=2):
    address = Address(name="Ana Lima", line1="1 Main St", city="Austin", region="TX", postcode="73301", country="US")
    return CommerceOrderDraft(
        amazon_order_id=AMAZON_ORDER, customer_email="ana@marketplace.amazon.com", customer_firstname="Ana",
        customer_lastname="Lima", billing_address=address, shipping_address=address, fulfillment=fulfillment,
        lines=[CommerceOrderLine(sku="MUG-RED", name="Red mug", qty=qty, price=Decimal("9.50"), tax=Decimal("0"),
                                 amazon_order_item_id="OI-1")],
        shipping_amount=Decimal("0"), shipping_tax=Decimal("0"))


def mugs(store):
    p = store.product("MUG-RED")
    return p["qty"], p["salable_qty"]


def test_a_merchant_fulfilled_order_takes_its_mugs_out_of_sale_once_with_product_ids(client, store):
    # Given 10 red mugs on the shelf
    # When an MFN order of 2 is imported, and imported again (a retry)
    ref = client.create_order(draft())
    client.create_order(draft())
    # Then 8 can still be sold, 10 are still on the shelf, and the item names its product
    assert mugs(store) == (10, 8)
    order = client._get_order_raw(ref.order_id)
    assert order["items"][0]["product_id"] == client._get("/V1/products/MUG-RED")["id"]
    assert store.comments(AMAZON_ORDER).count(
        "Amazon channel: 2 x MUG-RED held from the salable quantity (out-of-stock threshold 0 -> 2).") == 1
    assert client._get("/V1/inventory/get-product-salable-quantity/MUG-RED/1") == 8


def test_the_merchant_ships_it_and_both_quantities_are_right(client, store):
    ref = client.create_order(draft())
    # When the merchant ships the 2 mugs
    store.merchant_ship(ext_order_id=AMAZON_ORDER, carrier="UPS", tracking_number="1Z1")
    # Then the shelf has 8 and 8 can be sold (MSI deducted the source and compensated; the hold offsets it)
    assert mugs(store) == (8, 8)
    assert client.get_order(ref.order_id).status == "complete"


def test_the_last_mugs_can_still_be_shipped(client, store):
    # Given the shelf has exactly what the order takes
    store.set_product("MUG-RED", qty=2)
    client.create_order(draft())
    assert mugs(store) == (2, 0)
    # When the merchant ships them, Then MSI's source deduction finds them on the shelf
    store.merchant_ship(ext_order_id=AMAZON_ORDER, carrier="UPS", tracking_number="1Z1")
    assert mugs(store) == (0, 0)


def test_withdrawn_before_shipping_every_mug_is_back_on_sale(client, store):
    ref = client.create_order(draft())
    # When the order is withdrawn (an offline credit memo returning the items to stock)
    client.cancel_order(ref.order_id, "Amazon channel: canceled on Amazon.")
    # Then the 2 mugs are back on sale and the shelf never changed
    assert mugs(store) == (10, 10)


def test_the_merchant_cancels_in_commerce_before_shipping_and_the_mugs_are_back_on_sale(client, store):
    client.create_order(draft())
    store.merchant_cancel(ext_order_id=AMAZON_ORDER, reason="Out of paint")
    assert mugs(store) == (10, 10)


def test_an_order_partly_shipped_then_refunded_with_return_to_stock(client, store):
    ref = client.create_order(draft(qty=3))
    client.ship_order(ref.order_id, CommerceShipment(order_id=ref.order_id, carrier="UPS", tracking_number="1Z1",
                                                     items=[("MUG-RED", 1)]))
    assert mugs(store) == (9, 7)
    # When the merchant refunds the 2 unshipped mugs back to stock
    order = client._get_order_raw(ref.order_id)
    item_id = order["items"][0]["item_id"]
    client._once("POST", f"/V1/order/{ref.order_id}/refund", body={
        "items": [{"order_item_id": item_id, "qty": 2}], "notify": False,
        "arguments": {"shipping_amount": 0, "extension_attributes": {"return_to_stock_items": [item_id]}}})
    # Then they are on sale again; the shipped one stays sold
    assert mugs(store) == (9, 9)


def test_an_fba_order_leaves_the_salable_quantity_alone(client, store):
    # When an FBA order of 2 is imported (Amazon's stock shipped it) and the channel records its shipment
    ref = client.create_order(draft(fulfillment="AFN"))
    assert mugs(store) == (10, 10)
    client.ship_order(ref.order_id, CommerceShipment(order_id=ref.order_id, carrier="Amazon", tracking_number="FBA",
                                                     items=[("MUG-RED", 2)]))
    # Then the salable quantity is unchanged; MSI deducts the shipment from the Commerce source all the
    # same (the drift the README states: the shelf reads 2 fewer than it holds)
    assert mugs(store) == (8, 10)
    assert not any("held from the salable quantity" in c for c in store.comments(AMAZON_ORDER))


def test_a_hold_cut_short_is_finished_once_by_the_retry(client, store):
    # Given the threshold cannot be set (Commerce down) after the hold was written on the order
    store.fail_next("PUT", "/V1/products/", 503, count=4)
    with pytest.raises(CommerceUnavailable):
        client.create_order(draft())
    assert mugs(store) == (10, 10)
    # When the import is retried, Then the hold is finished, once
    client.create_order(draft())
    client.create_order(draft())
    assert mugs(store) == (10, 8)
