"""Stories of a merchant's Commerce store, told through the simulated store's REST API."""

import json

import pytest
import urllib3


HTTP = urllib3.PoolManager(retries=False)


def call(store, method, path, body=None, query=None, token=None, prefix="/rest/V1"):
    headers = {"Authorization": f"Bearer {token or store.access_token}", "Content-Type": "application/json"}
    resp = HTTP.request(method, f"{store.base_url}{prefix}{path}", fields=query if method == "GET" else None,
                        body=None if body is None else json.dumps(body), headers=headers)
    return resp.status, json.loads(resp.data)


def search(field, value):
    p = "searchCriteria[filterGroups][0][filters][0]"
    return {f"{p}[field]": field, f"{p}[value]": value, f"{p}[conditionType]": "eq"}


def order_entity(ext_id, **overrides):
    entity = {
        "ext_order_id": ext_id, "store_id": 1, "customer_email": "buyer@marketplace.amazon.com",
        "customer_firstname": "Ana", "customer_lastname": "Lima", "customer_is_guest": 1,
        "base_currency_code": "USD", "order_currency_code": "USD",
        "items": [{"sku": "MUG-RED", "name": "Red mug", "qty_ordered": 2, "price": 9.5, "base_price": 9.5,
                   "original_price": 9.5, "tax_amount": 1.52, "row_total": 19, "product_type": "simple"}],
        "shipping_amount": 4, "shipping_tax_amount": 0, "tax_amount": 1.52, "subtotal": 19, "grand_total": 24.52,
        "billing_address": {"firstname": "Ana", "lastname": "Lima", "street": ["1 Main St"], "city": "Austin",
                            "country_id": "US", "postcode": "73301", "telephone": "555"},
        "extension_attributes": {"shipping_assignments": [{"shipping": {"address": {"firstname": "Ana"},
                                                                        "method": "flatrate_flatrate"}}]},
        "payment": {"method": "checkmo"},
    }
    entity.update(overrides)
    return entity


def test_a_caller_without_the_integration_token_is_turned_away(store):
    # Given a store, When someone calls without the token
    status, body = call(store, "GET", "/orders/1", token="wrong")
    # Then Commerce answers 401 naming the ACL resource
    assert status == 401
    assert body["message"] == "The consumer isn't authorized to access %resources."
    assert body["parameters"] == {"resources": "Magento_Sales::actions_view"}


def test_an_amazon_order_saved_keeps_amazons_prices_and_takes_stock(store):
    # Given the catalog sells the mug at 12.00, When an order is saved at Amazon's 9.50
    status, order = call(store, "POST", "/orders", {"entity": order_entity("111-0000001-0000001")},
                         prefix="/rest/default/V1")
    # Then the order keeps 9.50, is pending and numbered by Commerce, and stock went down
    assert status == 200
    assert (order["increment_id"], order["status"], order["state"]) == ("000000001", "pending", "new")
    assert order["items"][0]["price"] == 9.5 and order["grand_total"] == 24.52
    assert store.product("MUG-RED")["qty"] == 8
    status, found = call(store, "GET", "/orders", query=search("ext_order_id", "111-0000001-0000001"))
    assert found["total_count"] == 1 and found["items"][0]["entity_id"] == order["entity_id"]
    summary = store.order_by_ext_id("111-0000001-0000001")
    assert summary["items"] == [{"sku": "MUG-RED", "qty": 2, "price": "9.50"}]
    assert summary["emails_sent_to_customer"] == 0


@pytest.mark.parametrize("sku,setup,cause", [
    ("GHOST-1", None, "not found"),
    ("MUG-RED", {"enabled": False}, "disabled"),
    ("MUG-RED", {"qty": 1}, "insufficient stock"),
])
def test_an_order_the_catalog_cannot_supply_is_refused_naming_the_sku(store, sku, setup, cause):
    # Given a product missing, disabled or short of stock
    if setup:
        store.set_product("MUG-RED", **setup)
    entity = order_entity("111-0000002-0000002")
    entity["items"][0]["sku"] = sku
    # When the order is saved, Then it is refused and no order exists
    status, body = call(store, "POST", "/orders", {"entity": entity})
    assert status == 400
    assert body["message"] == 'Product "%1" cannot be ordered: %2.' and body["parameters"] == [sku, cause]
    assert store.order_count == 0


def test_an_order_number_can_be_given_but_not_reused(store):
    status, _ = call(store, "POST", "/orders", {"entity": order_entity("A-1", increment_id="111-0000003-0000003")})
    assert status == 200
    status, body = call(store, "POST", "/orders", {"entity": order_entity("A-2", increment_id="111-0000003-0000003")})
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
    assert summary["shipments"] == [{"carrier": "UPS", "tracking_number": "1Z999",
                                     "items": [{"sku": "MUG-RED", "qty": 2}]}]
    assert summary["emails_sent_to_customer"] == 0  # saving an order sends no email by itself
    _, shipment = call(store, "GET", f"/shipment/{shipment_id}")
    assert shipment["order_id"] == order["entity_id"]
    assert shipment["tracks"][0]["carrier_code"] == "ups" and shipment["items"][0]["qty"] == 2
    _, listed = call(store, "GET", "/shipments", query=search("order_id", str(order["entity_id"])))
    assert [s["entity_id"] for s in listed["items"]] == [shipment_id]
    assert len(events) == 1
    assert events[0]["DetailType"] == "com.adobe.commerce.observer.sales_order_shipment_save_after"
    detail = json.loads(events[0]["Detail"])
    assert detail["data"]["value"]["entity_id"] == shipment_id
    assert detail["data"]["value"]["order_id"] == order["entity_id"]


def test_shipping_more_than_remains_is_refused(store, events):
    _, order = call(store, "POST", "/orders", {"entity": order_entity("111-0000005-0000005")})
    item_id = order["items"][0]["item_id"]
    track = [{"track_number": "T1", "title": "USPS", "carrier_code": "usps"}]
    status, _ = call(store, "POST", f"/order/{order['entity_id']}/ship",
                     {"items": [{"order_item_id": item_id, "qty": 1}], "tracks": track})
    assert status == 200
    status, body = call(store, "POST", f"/order/{order['entity_id']}/ship",
                        {"items": [{"order_item_id": item_id, "qty": 2}], "tracks": track})
    assert status == 400 and "more than" in body["parameters"][0]
    with pytest.raises(ValueError, match="more than"):
        store.merchant_ship(ext_order_id="111-0000005-0000005", carrier="USPS", tracking_number="T2",
                            items=[{"sku": "MUG-RED", "qty": 5}])
    with pytest.raises(ValueError, match="No Commerce order"):
        store.merchant_ship(ext_order_id="nope", carrier="USPS", tracking_number="T3")
    assert len(events) == 1
    # Not invoiced yet: shipped in full stays processing
    store.merchant_ship(ext_order_id="111-0000005-0000005", carrier="USPS", tracking_number="T4")
    assert store.order_by_ext_id("111-0000005-0000005")["status"] == "processing"


def test_customers_are_searched_created_and_not_duplicated(store):
    store.add_customer("zoe@example.com", "Zoe", "Z")
    status, created = call(store, "POST", "/customers",
                           {"customer": {"email": "ana@example.com", "firstname": "Ana", "lastname": "Lima",
                                         "website_id": 1, "store_id": 1}})
    assert status == 200 and created["id"] == 2
    status, body = call(store, "POST", "/customers",
                        {"customer": {"email": "ANA@example.com", "firstname": "Ana", "lastname": "L",
                                      "website_id": 1}})
    assert status == 400
    assert body["message"] == "A customer with the same email address already exists in an associated website."
    status, body = call(store, "POST", "/customers", {"customer": {"email": "x@example.com", "lastname": "L"}})
    assert status == 400 and body["parameters"] == {"fieldName": "firstname"}
    _, found = call(store, "GET", "/customers/search", query=search("email", "ana@example.com"))
    assert found["total_count"] == 1 and found["items"][0]["firstname"] == "Ana"
    assert [c["email"] for c in store.customers()] == ["ana@example.com", "zoe@example.com"]


def test_comments_change_status_and_count_customer_emails(store):
    _, order = call(store, "POST", "/orders", {"entity": order_entity("C-1")})
    status, ok = call(store, "POST", f"/orders/{order['entity_id']}/comments",
                      {"statusHistory": {"comment": "hi", "is_customer_notified": 1, "status": "amazon_hold"}})
    assert status == 200 and ok is True
    summary = store.order_by_ext_id("C-1")
    assert summary["status"] == "amazon_hold" and summary["emails_sent_to_customer"] == 1


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
