"""Stories of a merchant's stock in Commerce as Amazon orders come in, ship, and are withdrawn.

Shelf: the source's quantity. Salable: what MSI says can still be sold (source quantity +
reservations - out-of-stock threshold). In stock: what the storefront shows (source quantity above
the threshold, reservations aside). A merchant-fulfilled order's units are held through the
threshold while they are to ship; each is released when it ships or is withdrawn, when MSI places
its +qty compensation, which only Magento's reservation tool nets for an order saved over REST.
"""

import threading
from decimal import Decimal

import pytest

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.adapters.stock_leases import InMemoryStockLeases
from amazon_channel.domain.errors import CommerceUnavailable
from amazon_channel.domain.models import Address, CommerceOrderDraft, CommerceOrderLine, CommerceShipment

AMAZON_ORDER = "111-0000001-0000001"


@pytest.fixture
def client(store):
    return CommerceRestClient(store.base_url, credentials=lambda: store.credentials, sleep=lambda s: None)


def draft(fulfillment="MFN", qty=2, amazon_order_id=AMAZON_ORDER):
    address = Address(name="Ana Lima", line1="1 Main St", city="Austin", region="TX", postcode="73301", country="US")
    return CommerceOrderDraft(
        amazon_order_id=amazon_order_id,
        customer_email="ana@marketplace.amazon.com",
        customer_firstname="Ana",
        customer_lastname="Lima",
        billing_address=address,
        shipping_address=address,
        fulfillment=fulfillment,
        lines=[
            CommerceOrderLine(
                sku="MUG-RED",
                name="Red mug",
                qty=qty,
                price=Decimal("9.50"),
                tax=Decimal("0"),
                amazon_order_item_id="OI-1",
            )
        ],
        shipping_amount=Decimal("0"),
        shipping_tax=Decimal("0"),
    )


def mugs(store):
    """(shelf, salable, in stock on the storefront)"""
    p = store.product("MUG-RED")
    return p["qty"], p["salable_qty"], p["in_stock"]


def threshold(store):
    return store.product("MUG-RED")["min_qty"]


def merchant_ships(client, store, amazon_order_id=AMAZON_ORDER, qty=None, tracking="1Z1"):
    """The merchant ships in Commerce, and the channel's shipment intake releases what shipped."""
    items = [{"sku": "MUG-RED", "qty": qty}] if qty else None
    shipment_id = store.merchant_ship(
        ext_order_id=amazon_order_id, carrier="UPS", tracking_number=tracking, items=items
    )
    client.release_held_units(store.order_by_ext_id(amazon_order_id)["order_id"], f"shipment {shipment_id}")
    return shipment_id


def moves(store, amazon_order_id=AMAZON_ORDER):
    return [c for c in store.comments(amazon_order_id) if c.startswith(("Amazon channel: held", "Amazon channel: rel"))]


def test_a_merchant_fulfilled_order_takes_its_mugs_out_of_sale_once_with_product_ids(client, store):
    # Given 10 red mugs on the shelf
    # When an MFN order of 2 is imported, and imported again (a retry)
    ref = client.create_order(draft())
    client.create_order(draft())
    # Then 8 can be sold, 10 are on the shelf, the store shows them in stock, and the item names its product
    assert mugs(store) == (10, 8, True)
    order = client._get_order_raw(ref.order_id)
    assert order["items"][0]["product_id"] == client._get("/V1/products/MUG-RED")["id"]
    assert moves(store) == ["Amazon channel: held 2 x MUG-RED (threshold 0 -> 2)"]
    assert client._get("/V1/inventory/get-product-salable-quantity/MUG-RED/1") == 8


def test_the_merchant_ships_it_and_the_hold_is_released(client, store):
    ref = client.create_order(draft())
    # When the merchant ships the 2 mugs and the channel hears of it (twice: a redelivered event)
    shipment_id = merchant_ships(client, store)
    client.release_held_units(ref.order_id, f"shipment {shipment_id}")
    # Then the shelf has 8, the store shows 8 in stock, and nothing was released twice
    assert (mugs(store)[0], mugs(store)[2], threshold(store)) == (8, True, 0)
    assert moves(store)[-1] == f"Amazon channel: released 2 x MUG-RED for shipment {shipment_id} (threshold 2 -> 0)"
    assert len(moves(store)) == 2
    # And the salable quantity reads MSI's +2 left over for an order saved over REST ...
    assert mugs(store)[1] == 10
    # ... until the merchant's scheduled compensation command nets it
    assert store.create_compensations() == [f"{ref.increment_id}:MUG-RED:-2:1"]
    assert mugs(store) == (8, 8, True)
    assert store.create_compensations() == []


def test_restocked_after_every_mug_was_sold_on_amazon_the_store_shows_them_in_stock(client, store):
    # Given 4 mugs, and two Amazon orders of 2 that the merchant ships
    store.set_product("MUG-RED", qty=4)
    for n, oid in enumerate(("111-0000001-0000001", "111-0000001-0000002")):
        client.create_order(draft(amazon_order_id=oid))
        merchant_ships(client, store, oid, tracking=f"1Z{n}")
    assert (mugs(store)[0], mugs(store)[2]) == (0, False)
    # When the merchant restocks 4
    store.set_product("MUG-RED", qty=4)
    # Then the store shows them in stock, and a third order is taken
    assert (mugs(store)[0], mugs(store)[2], threshold(store)) == (4, True, 0)
    client.create_order(draft(amazon_order_id="111-0000001-0000003"))
    store.create_compensations()
    assert mugs(store) == (4, 2, True)


def test_the_last_mugs_can_still_be_shipped(client, store):
    # Given the shelf has exactly what the order takes
    store.set_product("MUG-RED", qty=2)
    client.create_order(draft())
    assert mugs(store) == (2, 0, False)  # all sold: the store shows them out of stock
    # When the merchant ships them, Then MSI's source deduction finds them on the shelf
    merchant_ships(client, store)
    store.create_compensations()
    assert mugs(store) == (0, 0, False)


def test_withdrawn_before_shipping_every_mug_is_back_on_sale(client, store):
    ref = client.create_order(draft())
    # When the channel withdraws the order (an offline credit memo returning the items to stock)
    client.cancel_order(ref.order_id, "Amazon channel: canceled on Amazon.")
    client.release_held_units(ref.order_id, "withdrawal")
    # Then the shelf never changed and the store shows all 10 again
    assert (mugs(store)[0], mugs(store)[2], threshold(store)) == (10, True, 0)
    store.create_compensations()
    assert mugs(store) == (10, 10, True)


def test_the_merchant_cancels_in_commerce_before_shipping_and_the_mugs_are_back_on_sale(client, store):
    ref = client.create_order(draft())
    store.merchant_cancel(ext_order_id=AMAZON_ORDER, reason="Out of paint")
    client.release_held_units(ref.order_id, "credit memo")
    assert moves(store)[-1] == "Amazon channel: released 2 x MUG-RED for credit memo (threshold 2 -> 0)"
    store.create_compensations()
    assert mugs(store) == (10, 10, True)


def test_an_order_partly_shipped_then_refunded_with_return_to_stock(client, store):
    ref = client.create_order(draft(qty=3))
    # When the merchant ships 1 of 3
    merchant_ships(client, store, qty=1)
    # Then 1 is released, 2 stay held: the store shows 7 of the 9 on the shelf
    assert (mugs(store)[0], threshold(store)) == (9, 2)
    # When the merchant refunds the 2 unshipped mugs back to stock
    order = client._get_order_raw(ref.order_id)
    item_id = order["items"][0]["item_id"]
    client._once(
        "POST",
        f"/V1/order/{ref.order_id}/refund",
        body={
            "items": [{"order_item_id": item_id, "qty": 2}],
            "notify": False,
            "arguments": {"shipping_amount": 0, "extension_attributes": {"return_to_stock_items": [item_id]}},
        },
    )
    client.release_held_units(ref.order_id, "credit memo")
    # Then they are on sale again in the store; the shipped one stays sold
    assert (mugs(store)[0], mugs(store)[2], threshold(store)) == (9, True, 0)
    # And MSI's +3 stays in the salable quantity: Magento keeps the order `processing` (its qty to ship
    # counts max(shipped, refunded)), so the compensation command for finished orders leaves it
    store.create_compensations()
    assert client.get_order(ref.order_id).state == "processing"
    assert mugs(store)[1] == 12


def test_an_fba_order_leaves_the_salable_quantity_alone(client, store):
    # When an FBA order of 2 is imported (Amazon's stock shipped it) and the channel records its shipment
    ref = client.create_order(draft(fulfillment="AFN"))
    assert mugs(store) == (10, 10, True)
    client.ship_order(
        ref.order_id,
        CommerceShipment(order_id=ref.order_id, carrier="Amazon", tracking_number="FBA", items=[("MUG-RED", 2)]),
    )
    client.release_held_units(ref.order_id, "shipment")
    # Then nothing was held nor released; MSI deducts the shipment from the Commerce source all the
    # same (the drift the README states: the shelf reads 2 fewer than it holds)
    assert (mugs(store)[0], threshold(store)) == (8, 0)
    assert moves(store) == []


def test_a_hold_cut_short_is_finished_once_by_the_retry(client, store):
    # Given the threshold cannot be set (Commerce down) after the hold was written on the order
    store.fail_next("PUT", "/V1/products/", 503, count=4)
    with pytest.raises(CommerceUnavailable):
        client.create_order(draft())
    assert mugs(store)[1] == 10
    # When the import is retried, Then the hold is finished, once
    client.create_order(draft())
    client.create_order(draft())
    assert mugs(store) == (10, 8, True)
    assert len(moves(store)) == 1


def test_a_hold_cut_short_is_finished_before_another_orders_hold_of_the_same_mug(client, store):
    # Given a first order's hold was cut short
    store.fail_next("PUT", "/V1/products/", 503, count=4)
    with pytest.raises(CommerceUnavailable):
        client.create_order(draft())
    # When a second order of 2 mugs is imported before the first is retried
    client.create_order(draft(amazon_order_id="111-0000001-0000002"))
    client.create_order(draft())
    # Then both holds count, once each
    assert (mugs(store)[1], threshold(store)) == (6, 4)


def test_orders_imported_at_the_same_moment_lose_no_hold(store):
    # Given five functions importing orders of 2 red mugs at once, sharing the SKU's lease
    leases = InMemoryStockLeases()
    clients = [
        CommerceRestClient(store.base_url, credentials=lambda: store.credentials, stock_leases=leases) for _ in range(5)
    ]
    errors = []

    def run(n):
        try:
            clients[n].create_order(draft(amazon_order_id=f"111-0000001-000000{n}"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(5)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # Then all ten mugs are held
    assert errors == [] and (mugs(store)[1], threshold(store)) == (0, 10)


def test_while_another_function_moves_the_threshold_the_import_waits_then_asks_to_retry(client, store):
    # Given another function holds the red mug's lease
    client._leases.acquire("MUG-RED", "other", "2000-01-01T00:00:00+00:00", "9999-01-01T00:00:00+00:00")
    # When an order is imported, Then it fails as Commerce being busy (retried later), holding nothing
    with pytest.raises(CommerceUnavailable, match="MUG-RED"):
        client.create_order(draft())
    assert threshold(store) == 0
    client._leases.release("MUG-RED", "other")
    client.create_order(draft())
    assert threshold(store) == 2


def test_a_store_with_a_negative_threshold_holds_and_releases_from_it(client, store):
    # Given the merchant allows backorders down to -5 (a negative out-of-stock threshold)
    item_id = client._get("/V1/stockItems/MUG-RED")["item_id"]
    client._once(
        "PUT",
        f"/V1/products/MUG-RED/stockItems/{item_id}",
        body={"stockItem": {"use_config_min_qty": False, "min_qty": -5}},
    )
    ref = client.create_order(draft())
    assert moves(store) == ["Amazon channel: held 2 x MUG-RED (threshold -5 -> -3)"]
    # When it ships, Then the threshold is back at -5
    merchant_ships(client, store)
    client.release_held_units(ref.order_id, "shipment again")
    assert threshold(store) == -5
