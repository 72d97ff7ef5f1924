"""The simulated Commerce is held to Adobe's admin REST schema, as a real store applies it."""

import json
from urllib.parse import urlencode

import pytest
import urllib3

from amazon_channel_local.simulators import commerce_schema
from amazon_channel_local.simulators.commerce import SimulatedCommerce

HTTP = urllib3.PoolManager(retries=False)
NOT_SUPPORTED = '"%fieldName" is not supported. Correct the field name and try again.'
REQUIRED = '"%fieldName" is required. Enter and try again.'


def call(store, method, path, body=None, query=None, prefix="/rest/default/V1"):
    url = f"{store.base_url}{prefix}{path}"
    if query:
        url += "?" + urlencode(query)
    headers = {"Authorization": store.sign(method, url), "Content-Type": "application/json"}
    resp = HTTP.request(method, url, body=None if body is None else json.dumps(body), headers=headers)
    return resp.status, json.loads(resp.data)


def an_order(**changes):
    """A guest order for two red mugs, as the channel saves it."""
    entity = {
        "ext_order_id": "111-0000001-0000001",
        "store_id": 1,
        "customer_email": "ana@marketplace.amazon.com",
        "customer_firstname": "Ana",
        "customer_lastname": "Lima",
        "customer_is_guest": 1,
        "base_currency_code": "USD",
        "order_currency_code": "USD",
        "grand_total": 19,
        "base_grand_total": 19,
        "items": [{"sku": "MUG-RED", "name": "Red mug", "qty_ordered": 2, "price": 9.5, "product_type": "simple"}],
        "billing_address": {
            "address_type": "billing",
            "firstname": "Ana",
            "lastname": "Lima",
            "street": ["1 Main St"],
            "city": "Austin",
            "country_id": "US",
            "postcode": "73301",
            "telephone": "555",
        },
        "payment": {"method": "checkmo"},
        "extension_attributes": {"shipping_assignments": [{"shipping": {"method": "flatrate_flatrate"}}]},
    }
    for where, value in changes.items():
        *path, last = where.split(".")
        node = entity
        for key in path:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return {"entity": entity}


def test_an_order_with_send_email_is_refused_as_a_real_store_refuses_it(store):
    # Given the channel's old order body with send_email, When it is saved
    status, body = call(store, "POST", "/orders", an_order(send_email=False))
    # Then Commerce answers 400 with Magento's own message, and no order exists
    assert status == 400
    assert body == {"message": NOT_SUPPORTED, "parameters": {"fieldName": "send_email"}}
    assert store.order_count == 0


@pytest.mark.parametrize(
    "where",
    [
        "items.0.gift_note",  # an order item
        "billing_address.street_line_3",  # an address
        "payment.amazon_reference",  # the payment
        "extension_attributes.amazon_channel",  # the extension attributes
        "extension_attributes.shipping_assignments.0.shipping.carrier",  # three levels down
    ],
)
def test_an_unknown_field_is_refused_at_every_level_of_the_order(store, where):
    status, body = call(store, "POST", "/orders", an_order(**{where: "x"}))
    assert (status, body) == (400, {"message": NOT_SUPPORTED, "parameters": {"fieldName": where.split(".")[-1]}})
    assert store.order_count == 0


def test_a_value_of_the_wrong_type_is_refused(store):
    status, body = call(store, "POST", "/orders", an_order(**{"items.0.qty_ordered": "two"}))
    assert status == 400 and body["parameters"] == {"value": "two", "type": "float"}
    assert body["message"].startswith('The "%value" value\'s type is invalid.')


def test_a_missing_top_level_parameter_is_refused_but_a_nested_required_field_is_only_a_warning(store):
    # Given no order at all, Then Magento's "is required"
    assert call(store, "POST", "/orders", {}) == (400, {"message": REQUIRED, "parameters": {"fieldName": "entity"}})
    # Given an order whose payment lacks fields the schema marks required (cc_last4, ...), Then it is saved
    status, _order = call(store, "POST", "/orders", an_order())
    assert status == 200
    assert any("entity.payment.cc_last4 is marked required" in w for w in store.schema_warnings)


def test_answers_leave_out_null_optional_fields_and_keep_required_ones(store):
    # Given a guest order saved, When it is read back
    _, saved = call(store, "POST", "/orders", an_order())
    status, order = call(store, "GET", f"/orders/{saved['entity_id']}")
    # Then no customer_id key at all (an optional getter), but payment.cc_last4 is written as null
    assert status == 200 and "customer_id" not in order
    assert "cc_last4" in order["payment"] and order["payment"]["cc_last4"] is None


def test_search_criteria_take_any_index_and_unknown_query_parameters_are_refused(store):
    p = "searchCriteria[filterGroups][3][filters][7]"
    status, found = call(store, "GET", "/orders", query={f"{p}[field]": "ext_order_id", f"{p}[value]": "x"})
    assert status == 200 and found["total_count"] == 0
    status, body = call(store, "GET", "/orders", query={"searchCriteria[pageSize]": "ten"})
    assert status == 400 and body["parameters"] == {"value": "ten", "type": "int"}
    status, body = call(store, "GET", "/orders", query={"searchCriteria[limit]": "1"})
    assert (status, body["parameters"]) == (400, {"fieldName": "searchCriteria[limit]"})


def test_a_route_that_is_not_in_the_schema_does_not_exist(store):
    status, body = call(store, "GET", "/orders/1/amazon")
    assert (status, body["message"]) == (404, "Request does not match any route.")


def test_an_answer_outside_the_schema_is_a_500_and_fails_the_test(store, monkeypatch):
    # Given a simulator bug that adds a field the product interface does not have
    product_json = store._product_json
    monkeypatch.setattr(store, "_product_json", lambda p: {**product_json(p), "salable": True})
    # When the product is read, Then the answer is a 500 naming the field, and it is recorded
    status, body = call(store, "GET", "/products/MUG-RED")
    assert status == 500 and "salable" in body["message"]
    assert store.schema_violations and "salable" in store.schema_violations[0]
    # (the autouse fixture would fail this test; the violation was caused on purpose)
    assert any("salable" in v for v in commerce_schema.take_violations())


@pytest.mark.parametrize("version", commerce_schema.VERSIONS)
def test_the_channels_commerce_calls_pass_on_every_schema_version(version):
    """A customer found or created, an order created and shipped in two parts with a comment, and a
    second order withdrawn (refunded offline): every request and answer valid on 2.4.7 to 2.4.9."""
    from decimal import Decimal

    from amazon_channel.adapters.commerce_rest import CommerceRestClient
    from amazon_channel.domain.models import (
        Address,
        CommerceCustomer,
        CommerceOrderDraft,
        CommerceOrderLine,
        CommerceShipment,
    )

    with SimulatedCommerce(schema_version=version, validate_responses=True) as store:
        store.set_product("MUG-RED", name="Red mug", price="12.00", qty=10)
        client = CommerceRestClient(store.base_url, credentials=lambda: store.credentials, sleep=lambda s: None)
        address = Address(
            name="Ana Lima",
            line1="1 Main St",
            city="Austin",
            region="TX",
            postcode="73301",
            country="US",
            phone="555-0100",
        )
        customer = client.create_customer(CommerceCustomer(email="ana@example.com", firstname="Ana", lastname="Lima"))
        assert client.find_customer("ana@example.com", 1).id == customer.id

        def order(amazon_order_id):
            return client.create_order(
                CommerceOrderDraft(
                    amazon_order_id=amazon_order_id,
                    customer_email="ana@example.com",
                    customer_firstname="Ana",
                    customer_lastname="Lima",
                    customer_is_guest=False,
                    customer_id=customer.id,
                    billing_address=address,
                    shipping_address=address,
                    lines=[
                        CommerceOrderLine(
                            sku="MUG-RED",
                            name="Red mug",
                            qty=3,
                            price=Decimal("9.50"),
                            tax=Decimal("0.76"),
                            amazon_order_item_id="OI-1",
                        )
                    ],
                    shipping_amount=Decimal("4.99"),
                    shipping_tax=Decimal("0.40"),
                )
            )

        shipped = order("111-0000001-0000001")
        for tracking, qty in (("1Z1", 1), ("1Z2", 2)):
            shipment_id = client.ship_order(
                shipped.order_id,
                CommerceShipment(
                    order_id=shipped.order_id, carrier="UPS", tracking_number=tracking, items=[("MUG-RED", qty)]
                ),
            )
            assert client.get_shipment(shipment_id).tracking_number == tracking
        client.add_comment(shipped.order_id, "Shipped in two boxes.")
        withdrawn = client.cancel_order(order("111-0000001-0000002").order_id, "Canceled on Amazon")
        assert client.get_order(shipped.order_id).state == "complete" and withdrawn.state == "closed"
        assert store.schema_version == version and store.schema_counts["requests_refused"] == 0
        assert store.schema_counts["requests"] > 10 and store.schema_counts["responses"] > 10
        assert store.schema_violations == []


def test_an_unknown_schema_version_is_refused():
    with pytest.raises(ValueError, match=r"2\.3\.0"):
        SimulatedCommerce(schema_version="2.3.0")
