"""Stories of a merchant withdrawing orders in the simulated Commerce store: Magento's Cancel while
something is left to invoice, an offline credit memo otherwise, and the events each one sends."""

import json

import pytest
import urllib3

from amazon_channel_local.simulators.commerce import CREDITMEMO_EVENT, ORDER_CANCEL_EVENT, detail_type

HTTP = urllib3.PoolManager(retries=False)


def call(store, method, path, body=None):
    url = f"{store.base_url}/rest/V1{path}"
    headers = {"Authorization": store.sign(method, url), "Content-Type": "application/json"}
    resp = HTTP.request(method, url, body=None if body is None else json.dumps(body), headers=headers)
    return resp.status, json.loads(resp.data)


def an_order(store, ext_id="111-0000001-0000001", invoiced=True, shipping=(4, 0)):
    entity = {
        "ext_order_id": ext_id,
        "store_id": 1,
        "customer_email": "buyer@marketplace.amazon.com",
        "customer_firstname": "Ana",
        "customer_lastname": "Lima",
        "customer_is_guest": 1,
        "items": [
            {
                "sku": "MUG-RED",
                "name": "Red mug",
                "qty_ordered": 2,
                "price": 9.5,
                "tax_amount": 1.52,
                "row_total": 19,
                "product_type": "simple",
            },
            {
                "sku": "TEA-1KG",
                "name": "Tea",
                "qty_ordered": 1,
                "price": 28,
                "tax_amount": 0,
                "row_total": 28,
                "product_type": "simple",
            },
        ],
        "shipping_amount": shipping[0],
        "shipping_tax_amount": shipping[1],
        "tax_amount": round(1.52 + shipping[1], 2),
        "subtotal": 47,
        "grand_total": round(47 + 1.52 + shipping[0] + shipping[1], 2),
        "billing_address": {
            "firstname": "Ana",
            "lastname": "Lima",
            "street": ["1 Main St"],
            "city": "Austin",
            "country_id": "US",
            "postcode": "73301",
            "telephone": "555",
        },
        "payment": {"method": "checkmo"},
    }
    status, order = call(store, "POST", "/orders", {"entity": entity})
    assert status == 200
    if invoiced:
        assert call(store, "POST", f"/order/{order['entity_id']}/invoice", {"capture": False})[0] == 200
    return order["entity_id"]


def test_an_uninvoiced_order_is_canceled_and_its_stock_released(store, events):
    oid = an_order(store, invoiced=False)
    assert store.merchant_cancel(ext_order_id="111-0000001-0000001", reason="Customer called") == "canceled"
    order = store.order_by_ext_id("111-0000001-0000001")
    assert order["state"] == "canceled" and store.product("MUG-RED")["qty"] == 10
    assert store.comments("111-0000001-0000001") == ["Customer called"]
    [event] = events
    assert event["DetailType"] == detail_type(ORDER_CANCEL_EVENT)
    assert json.loads(event["Detail"])["data"]["value"]["entity_id"] == str(oid)


def test_an_invoiced_order_cannot_be_canceled_only_refunded_then_it_is_closed(store, events):
    oid = an_order(store)
    # Magento's cancel endpoint refuses an order invoiced in full: it answers false
    assert call(store, "POST", f"/orders/{oid}/cancel") == (200, False)
    # So the merchant's cancel is an offline credit memo of everything, back to stock
    assert store.merchant_cancel(ext_order_id="111-0000001-0000001", reason="Out of stock") == "credit memo"
    order = store.order_by_ext_id("111-0000001-0000001")
    assert order["status"] == "closed" and store.product("MUG-RED")["qty"] == 10
    [memo] = store.credit_memos("111-0000001-0000001")
    assert memo["grand_total"] == 52.52 and memo["comments"] == [{"comment": "Out of stock", "is_visible_on_front": 0}]
    assert [e["DetailType"] for e in events] == [detail_type(CREDITMEMO_EVENT)]
    value = json.loads(events[0]["Detail"])["data"]["value"]
    assert (value["entity_id"], value["order_id"]) == (str(memo["entity_id"]), str(oid))
    # And a closed order takes no second credit memo, no shipment
    status, error = call(store, "POST", f"/order/{oid}/refund", {"items": []})
    assert status == 400 and "does not allow a creditmemo" in error["parameters"][0]
    with pytest.raises(ValueError, match="nothing left to cancel"):
        store.merchant_cancel(ext_order_id="111-0000001-0000001", reason="again")


def test_a_partly_shipped_order_is_refunded_for_what_did_not_ship_and_completes(store, events):
    oid = an_order(store)
    store.merchant_ship(
        ext_order_id="111-0000001-0000001", carrier="UPS", tracking_number="1Z", items=[{"sku": "MUG-RED", "qty": 2}]
    )
    events.clear()
    assert store.merchant_cancel(ext_order_id="111-0000001-0000001", reason="Tea out of stock") == "credit memo"
    [memo] = store.credit_memos("111-0000001-0000001")
    assert memo["items"] == [{"order_item_id": memo["items"][0]["order_item_id"], "sku": "TEA-1KG", "qty": 1}]
    assert memo["shipping_amount"] == 0  # part of the order shipped: its shipping is not refunded
    assert store.order_by_ext_id("111-0000001-0000001")["status"] == "complete"
    # And a refunded item can no longer be shipped
    status, _error = call(store, "POST", f"/order/{oid}/ship", {"items": [], "tracks": []})
    assert status == 400


def test_refunds_commerce_cannot_make_are_refused_with_magentos_messages(store):
    oid = an_order(store)
    status, order = call(store, "GET", f"/orders/{oid}")
    mug = order["items"][0]["item_id"]
    assert call(store, "POST", f"/order/{oid}/refund", {"items": [{"order_item_id": mug, "qty": 3}]})[1][
        "parameters"
    ] == ["The quantity to creditmemo must not be greater than the unrefunded quantity."]
    assert call(store, "POST", f"/order/{oid}/refund", {"items": [{"order_item_id": 999, "qty": 1}]})[1][
        "parameters"
    ] == ["The creditmemo contains product item that is not part of the original order."]
    status, error = call(
        store,
        "POST",
        f"/order/{oid}/refund",
        {"items": [{"order_item_id": mug, "qty": 1}], "arguments": {"adjustment_positive": 100}},
    )
    assert status == 400 and error["message"] == "The most money available to refund is %1."
    unpaid = an_order(store, ext_id="111-0000002-0000002", invoiced=False)
    assert call(store, "POST", f"/order/{unpaid}/refund", {"items": []})[0] == 400


def refund(store, oid, item_index, qty, shipping):
    status, order = call(store, "GET", f"/orders/{oid}")
    item = order["items"][item_index]["item_id"]
    status, memo_id = call(
        store,
        "POST",
        f"/order/{oid}/refund",
        {"items": [{"order_item_id": item, "qty": qty}], "arguments": {"shipping_amount": shipping}},
    )
    assert status == 200, memo_id
    return call(store, "GET", f"/creditmemo/{memo_id}")[1], call(store, "GET", f"/orders/{oid}")[1]


def test_a_credit_memo_refunds_the_shipping_tax_as_magento_does(store):
    # Given an order with 4.00 shipping taxed 0.40
    oid = an_order(store, shipping=(4, 0.4))
    # When a first memo refunds one mug and half the shipping: its share of the item and shipping tax
    memo, order = refund(store, oid, 0, 1, 2)
    assert (memo["tax_amount"], memo["shipping_tax_amount"], memo["grand_total"]) == (0.96, 0.2, 12.46)
    # And the memo of the last units and the rest of the shipping takes all the tax left: closed
    memo, order = refund(store, oid, 0, 1, 2)
    memo, order = refund(store, oid, 1, 1, 0)
    assert order["state"] == "closed" and order["total_refunded"] == order["total_paid"] == 52.92
    assert (order["tax_refunded"], order["shipping_tax_refunded"]) == (1.92, 0.4)


def test_free_but_taxed_shipping_has_its_tax_refunded_with_the_first_memo_that_refunds_all_the_shipping(store):
    # Given an order whose shipping is free (0.00) but taxed 0.40, as Amazon charges it
    oid = an_order(store, shipping=(0, 0.4))
    # When a memo refunds one mug and all the shipping left (0.00): Magento refunds the shipping tax
    memo, order = refund(store, oid, 0, 1, 0)
    assert (memo["shipping_tax_amount"], memo["tax_amount"]) == (0.4, 1.16)
    # Then a memo of the rest closes the order with nothing left
    memo, order = refund(store, oid, 0, 1, 0)
    memo, order = refund(store, oid, 1, 1, 0)
    assert order["state"] == "closed" and order["total_refunded"] == order["total_paid"] == 48.92
