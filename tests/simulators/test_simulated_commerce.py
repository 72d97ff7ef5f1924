"""Stories of a merchant's Commerce store, told through the simulated store's REST API."""

import json
from urllib.parse import urlencode

import pytest
import urllib3

HTTP = urllib3.PoolManager(retries=False)


def call(store, method, path, body=None, query=None, auth=None, prefix="/rest/V1"):
    """A REST call as the store's integration: signed with OAuth 1.0a unless `auth` says otherwise."""
    url = f"{store.base_url}{prefix}{path}" + (f"?{urlencode(query)}" if query else "")
    headers = {"Authorization": auth or store.sign(method, url), "Content-Type": "application/json"}
    resp = HTTP.request(method, url, body=None if body is None else json.dumps(body), headers=headers)
    return resp.status, json.loads(resp.data)


def search(field, value):
    p = "searchCriteria[filterGroups][0][filters][0]"
    return {f"{p}[field]": field, f"{p}[value]": value, f"{p}[conditionType]": "eq"}


def order_entity(ext_id, **overrides):
    entity = {
        "ext_order_id": ext_id,
        "store_id": 1,
        "customer_email": "buyer@marketplace.amazon.com",
        "customer_firstname": "Ana",
        "customer_lastname": "Lima",
        "customer_is_guest": 1,
        "base_currency_code": "USD",
        "order_currency_code": "USD",
        "items": [
            {
                "sku": "MUG-RED",
                "name": "Red mug",
                "qty_ordered": 2,
                "price": 9.5,
                "base_price": 9.5,
                "original_price": 9.5,
                "tax_amount": 1.52,
                "row_total": 19,
                "product_type": "simple",
            }
        ],
        "shipping_amount": 4,
        "shipping_tax_amount": 0,
        "tax_amount": 1.52,
        "subtotal": 19,
        "grand_total": 24.52,
        "billing_address": {
            "firstname": "Ana",
            "lastname": "Lima",
            "street": ["1 Main St"],
            "city": "Austin",
            "country_id": "US",
            "postcode": "73301",
            "telephone": "555",
        },
        "extension_attributes": {
            "shipping_assignments": [{"shipping": {"address": {"firstname": "Ana"}, "method": "flatrate_flatrate"}}]
        },
        "payment": {"method": "checkmo"},
    }
    entity.update(overrides)
    return entity


def test_a_caller_without_the_integration_token_is_turned_away(store):
    # Given a store, When someone calls with a token that is not the integration's
    status, body = call(store, "GET", "/orders/1", auth="Bearer wrong")
    # Then Commerce answers 401 naming the ACL resource
    assert status == 401
    assert body["message"] == "The consumer isn't authorized to access %resources."
    assert body["parameters"] == {"resources": "Magento_Sales::actions_view"}


def test_an_amazon_order_saved_keeps_amazons_prices_and_nothing_else_moves(store):
    # Given the catalog sells 10 mugs at 12.00, When an order of 2 is saved at Amazon's 9.50
    status, order = call(
        store, "POST", "/orders", {"entity": order_entity("111-0000001-0000001")}, prefix="/rest/default/V1"
    )
    # Then the order keeps 9.50, is pending and numbered by Commerce
    assert status == 200
    assert (order["increment_id"], order["status"], order["state"]) == ("000000001", "pending", "new")
    assert order["items"][0]["price"] == 9.5 and order["grand_total"] == 24.52
    # And, as the order repository's save, it touched no stock and filled no product_id
    assert store.product("MUG-RED")["qty"] == 10 and store.product("MUG-RED")["salable_qty"] == 10
    assert order["items"][0].get("product_id") is None
    status, found = call(store, "GET", "/orders", query=search("ext_order_id", "111-0000001-0000001"))
    assert found["total_count"] == 1 and found["items"][0]["entity_id"] == order["entity_id"]
    summary = store.order_by_ext_id("111-0000001-0000001")
    assert summary["items"] == [{"sku": "MUG-RED", "qty": 2, "price": "9.50"}]
    assert summary["emails_sent_to_customer"] == 0 and store.emails() == []


@pytest.mark.parametrize("sku,setup", [("GHOST-1", None), ("MUG-RED", {"enabled": False}), ("MUG-RED", {"qty": 1})])
def test_an_order_the_catalog_cannot_supply_is_saved_all_the_same(store, sku, setup):
    # Given a product missing, disabled or short of stock
    if setup:
        store.set_product("MUG-RED", **setup)
    entity = order_entity("111-0000002-0000002")
    entity["items"][0]["sku"] = sku
    # When the order is saved, Then the repository stores it without looking at the catalog
    status, _ = call(store, "POST", "/orders", {"entity": entity})
    assert status == 200 and store.order_count == 1


def test_an_order_number_can_be_given_but_not_reused(store):
    status, _ = call(store, "POST", "/orders", {"entity": order_entity("A-1", increment_id="111-0000003-0000003")})
    assert status == 200
    status, _body = call(store, "POST", "/orders", {"entity": order_entity("A-2", increment_id="111-0000003-0000003")})
    assert status == 400


def test_merchant_ships_an_invoiced_order_and_it_completes_with_an_event(store, events):
    # Given an invoiced order
    _, order = call(store, "POST", "/orders", {"entity": order_entity("111-0000004-0000004")})
    status, invoice_id = call(store, "POST", f"/order/{order['entity_id']}/invoice", {"capture": False})
    assert status == 200 and isinstance(invoice_id, int)
    assert call(store, "GET", f"/orders/{order['entity_id']}")[1]["status"] == "processing"
    status, body = call(store, "POST", f"/order/{order['entity_id']}/invoice", {"capture": False})
    assert status == 400 and body["message"] == "The order does not allow an invoice to be created."
    # When the merchant ships it from the admin with a UPS tracking number
    shipment_id = store.merchant_ship(ext_order_id="111-0000004-0000004", carrier="UPS", tracking_number="1Z999")
    # Then the order is complete, the shipment reads back, and Adobe I/O announced it
    summary = store.order_by_ext_id("111-0000004-0000004")
    assert summary["status"] == "complete"
    assert summary["shipments"] == [
        {"carrier": "UPS", "tracking_number": "1Z999", "items": [{"sku": "MUG-RED", "qty": 2}]}
    ]
    assert summary["emails_sent_to_customer"] == 0  # no document asked to notify the buyer
    _, shipment = call(store, "GET", f"/shipment/{shipment_id}")
    assert shipment["order_id"] == order["entity_id"]
    assert shipment["tracks"][0]["carrier_code"] == "ups" and shipment["items"][0]["qty"] == 2
    _, listed = call(store, "GET", "/shipments", query=search("order_id", str(order["entity_id"])))
    assert [s["entity_id"] for s in listed["items"]] == [shipment_id]
    assert len(events) == 1
    assert events[0]["Source"].startswith("aws.partner/developer.adobe.com/")
    assert events[0]["DetailType"].endswith(":com.adobe.commerce.observer.sales_order_shipment_save_after")
    detail = json.loads(events[0]["Detail"])
    assert detail["data"]["value"]["entity_id"] == str(shipment_id)  # ids as Magento's observer data holds them
    assert detail["data"]["value"]["order_id"] == str(order["entity_id"])


def test_shipping_more_than_remains_is_refused(store, events):
    _, order = call(store, "POST", "/orders", {"entity": order_entity("111-0000005-0000005")})
    item_id = order["items"][0]["item_id"]
    track = [{"track_number": "T1", "title": "USPS", "carrier_code": "usps"}]
    status, _ = call(
        store,
        "POST",
        f"/order/{order['entity_id']}/ship",
        {"items": [{"order_item_id": item_id, "qty": 1}], "tracks": track},
    )
    assert status == 200
    status, body = call(
        store,
        "POST",
        f"/order/{order['entity_id']}/ship",
        {"items": [{"order_item_id": item_id, "qty": 2}], "tracks": track},
    )
    assert status == 400 and "more than" in body["parameters"][0]
    with pytest.raises(ValueError, match="more than"):
        store.merchant_ship(
            ext_order_id="111-0000005-0000005",
            carrier="USPS",
            tracking_number="T2",
            items=[{"sku": "MUG-RED", "qty": 5}],
        )
    with pytest.raises(ValueError, match="No Commerce order"):
        store.merchant_ship(ext_order_id="nope", carrier="USPS", tracking_number="T3")
    assert len(events) == 1
    # Not invoiced yet: shipped in full stays processing
    store.merchant_ship(ext_order_id="111-0000005-0000005", carrier="USPS", tracking_number="T4")
    assert store.order_by_ext_id("111-0000005-0000005")["status"] == "processing"


def test_customers_are_searched_created_and_not_duplicated(store):
    store.add_customer("zoe@example.com", "Zoe", "Z")
    status, created = call(
        store,
        "POST",
        "/customers",
        {
            "customer": {
                "email": "ana@example.com",
                "firstname": "Ana",
                "lastname": "Lima",
                "website_id": 1,
                "store_id": 1,
            }
        },
    )
    assert status == 200 and created["id"] == 2
    status, body = call(
        store,
        "POST",
        "/customers",
        {"customer": {"email": "ANA@example.com", "firstname": "Ana", "lastname": "L", "website_id": 1}},
    )
    assert status == 400
    assert body["message"] == "A customer with the same email address already exists in an associated website."
    status, body = call(store, "POST", "/customers", {"customer": {"email": "x@example.com", "lastname": "L"}})
    assert status == 400 and body["parameters"] == {"fieldName": "firstname"}
    _, found = call(store, "GET", "/customers/search", query=search("email", "ana@example.com"))
    assert found["total_count"] == 1 and found["items"][0]["firstname"] == "Ana"
    assert [c["email"] for c in store.customers()] == ["ana@example.com", "zoe@example.com"]


def test_a_comment_sets_only_a_status_assigned_to_the_orders_state(store):
    # Given a new order (state new, status pending)
    _, order = call(store, "POST", "/orders", {"entity": order_entity("C-1")})
    path = f"/orders/{order['entity_id']}/comments"
    # When a comment asks for "processing", which Magento assigns to state processing only
    status, body = call(store, "POST", path, {"statusHistory": {"comment": "hi", "status": "processing"}})
    # Then it is refused with Magento's message and the order keeps its status
    assert status == 400
    assert (body["message"], body["parameters"]) == (
        'The status "%1" is not part of the order status history.',
        ["processing"],
    )
    assert store.order_by_ext_id("C-1")["status"] == "pending" and store.comments("C-1") == []
    # When the merchant assigns a custom status to state new (Stores > Order Status), Then it is taken
    store.assign_status("amazon_new", "new")
    status, ok = call(store, "POST", path, {"statusHistory": {"comment": "hi", "status": "amazon_new"}})
    assert status == 200 and ok is True and store.order_by_ext_id("C-1")["status"] == "amazon_new"


def test_every_email_commerce_sends_the_buyer_is_counted(store):
    # Given an account created through createAccount and an order placed for it
    _, customer = call(
        store,
        "POST",
        "/customers",
        {"customer": {"email": "ana@example.com", "firstname": "Ana", "lastname": "Lima", "website_id": 1}},
    )
    _, order = call(
        store,
        "POST",
        "/orders",
        {
            "entity": order_entity(
                "C-2", customer_email="ana@example.com", customer_is_guest=0, customer_id=customer["id"]
            )
        },
    )
    oid = order["entity_id"]
    # When every document is created asking to notify, and a notified comment is added
    call(store, "POST", f"/order/{oid}/invoice", {"capture": False, "notify": True})
    call(store, "POST", f"/orders/{oid}/comments", {"statusHistory": {"comment": "hi", "is_customer_notified": 1}})
    call(store, "POST", f"/order/{oid}/ship", {"notify": True, "tracks": []})
    call(store, "POST", f"/order/{oid}/refund", {"notify": True, "items": []})
    # Then the welcome email and the four others are counted for the buyer
    assert [m["kind"] for m in store.emails()] == ["new_account", "invoice", "order_comment", "shipment", "creditmemo"]
    assert {m["to"] for m in store.emails()} == {"ana@example.com"}
    assert store.order_by_ext_id("C-2")["emails_sent_to_customer"] == 5
    # And a second order of the same account counts only its own
    call(
        store,
        "POST",
        "/orders",
        {
            "entity": order_entity(
                "C-3", customer_email="ana@example.com", customer_is_guest=0, customer_id=customer["id"]
            )
        },
    )
    assert store.order_by_ext_id("C-3")["emails_sent_to_customer"] == 0


def test_injected_faults_and_unknown_entities(store):
    store.fail_next("GET", "/V1/orders", 503, count=2)
    assert call(store, "GET", "/orders/1")[0] == 503
    assert call(store, "GET", "/orders/1")[0] == 503
    status, body = call(store, "GET", "/orders/1")
    assert status == 404 and "doesn't exist" in body["message"]
    assert call(store, "GET", "/products/NOPE")[0] == 404
    _, product = call(store, "GET", "/products/TEA-1KG")
    assert (product["price"], product["status"]) == (30, 1)
    assert call(store, "GET", "/stockItems/TEA-1KG")[1]["qty"] == 5
    assert call(store, "GET", "/nowhere")[0] == 404
    assert [entry[2] for entry in store.request_log[:3]] == [503, 503, 404]
