"""Stories of Amazon orders reaching a merchant's Commerce store through the REST client."""

import functools
from decimal import Decimal
from pathlib import Path

import pytest

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.domain.errors import (
    CommerceRejected,
    CommerceUnavailable,
    CustomerAlreadyExists,
    OrderStatusRefused,
)
from amazon_channel.domain.models import (
    Address,
    CommerceCustomer,
    CommerceOrderDraft,
    CommerceOrderLine,
    CommerceShipment,
)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(store, sleeps):
    return CommerceRestClient(store.base_url, credentials=lambda: store.credentials, sleep=sleeps.append)


def draft(amazon_order_id="111-0000001-0000001", **overrides):
    address = Address(
        name="Ana Lima", line1="1 Main St", city="Austin", region="TX", postcode="73301", country="US", phone="555-0100"
    )
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


def test_a_guest_order_is_created_invoiced_at_amazons_prices_without_emails(client, store):
    # Given the catalog sells the mug at 12.00, When Amazon sold it at 9.50
    ref = client.create_order(draft())
    # Then the Commerce order keeps Amazon's prices and totals, is invoiced (processing), a guest's, and silent
    assert (ref.increment_id, ref.status, ref.customer_is_guest) == ("000000001", "processing", True)
    order = store.order_by_ext_id("111-0000001-0000001")
    assert order["items"] == [
        {"sku": "MUG-RED", "qty": 2, "price": "9.50"},
        {"sku": "TEA-1KG", "qty": 1, "price": "28.00"},
    ]
    assert order["grand_total"] == "53.91" == f"{draft().grand_total:.2f}"
    assert order["emails_sent_to_customer"] == 0
    assert same(client.get_order(ref.order_id), ref)
    assert same(client.find_order_by_amazon_id("111-0000001-0000001"), ref)
    assert client.find_order_by_amazon_id("111-9999999-9999999") is None


def test_the_amazon_order_number_can_be_the_commerce_order_number(client):
    ref = client.create_order(draft(increment_id="111-0000001-0000001"))
    assert ref.increment_id == "111-0000001-0000001"


def test_creating_the_same_order_twice_gives_one_order(client, store):
    first = client.create_order(draft())
    second = client.create_order(draft())
    assert same(first, second) and store.order_count == 1
    assert first.request_id != second.request_id  # each answer names the Commerce call behind it


def test_a_crash_between_save_and_invoice_is_mended_by_calling_again(client, store, sleeps):
    # Given Commerce fails every invoice attempt once the order is saved
    store.fail_next("POST", "/V1/order/", 500, count=4)
    # When the order is created, Then the channel is told Commerce is unavailable after its retries
    with pytest.raises(CommerceUnavailable):
        client.create_order(draft())
    assert store.order_by_ext_id("111-0000001-0000001")["status"] == "pending"
    assert len(sleeps) == 3
    # When the step runs again, Then the same order is invoiced, not a second one created
    ref = client.create_order(draft())
    assert ref.status == "processing" and store.order_count == 1
    invoices = [e for e in store.request_log if e[0] == "POST" and e[1].endswith("/invoice")]
    assert [e[2] for e in invoices] == [500, 500, 500, 500, 200]


def test_a_transient_failure_is_retried_within_the_call(client, store, sleeps):
    store.fail_next("GET", "/V1/orders", 503)
    ref = client.create_order(draft())
    assert ref.status == "processing" and sleeps == [0.5]


@pytest.mark.parametrize(
    "sku,setup,cause",
    [
        ("GHOST-1", None, "not found"),
        ("MUG-RED", {"enabled": False}, "disabled"),
        ("MUG-RED", {"qty": 1}, "insufficient stock"),
    ],
)
def test_an_order_the_catalog_cannot_supply_is_refused_naming_the_sku(client, store, sku, setup, cause):
    if setup:
        store.set_product("MUG-RED", **setup)
    line = CommerceOrderLine(
        sku=sku, name="x", qty=2, price=Decimal("9.50"), tax=Decimal("0"), amazon_order_item_id="OI-1"
    )
    with pytest.raises(CommerceRejected, match=f'Product "{sku}" cannot be ordered: {cause}'):
        client.create_order(draft(lines=[line]))
    assert store.order_count == 0


def test_customers_are_found_created_and_duplicates_named(client, store):
    assert client.find_customer("ana@example.com", 1) is None
    created = client.create_customer(CommerceCustomer(email="ana@example.com", firstname="Ana", lastname="Lima"))
    assert created.id is not None
    assert same(client.find_customer("ana@example.com", 1), created)
    assert client.find_customer("ana@example.com", 2) is None
    with pytest.raises(CustomerAlreadyExists):
        client.create_customer(CommerceCustomer(email="ana@example.com", firstname="Ana", lastname="Lima"))
    ref = client.create_order(draft(customer_is_guest=False, customer_id=created.id))
    assert (ref.customer_is_guest, ref.customer_id) == (False, created.id)


def test_an_fba_order_amazon_shipped_is_shipped_in_commerce_and_completes(client, store, events):
    # Given an invoiced order, When the channel records Amazon's package as a Commerce shipment
    ref = client.create_order(draft())
    shipment_id = client.ship_order(
        ref.order_id,
        CommerceShipment(
            order_id=ref.order_id, carrier="UPS", tracking_number="1Z999", items=[("MUG-RED", 2), ("TEA-1KG", 1)]
        ),
    )
    # Then the order is complete, nobody was emailed, and the shipment reads back by SKU
    assert client.get_order(ref.order_id).status == "complete"
    assert store.order_by_ext_id("111-0000001-0000001")["emails_sent_to_customer"] == 0
    shipment = client.get_shipment(shipment_id)
    assert (shipment.id, shipment.order_id, shipment.carrier, shipment.tracking_number) == (
        shipment_id,
        ref.order_id,
        "UPS",
        "1Z999",
    )
    assert shipment.items == [("MUG-RED", 2), ("TEA-1KG", 1)]
    assert len(events) == 1


def test_the_merchants_own_shipment_reads_back(client, store):
    ref = client.create_order(draft())
    shipment_id = store.merchant_ship(
        ext_order_id="111-0000001-0000001",
        carrier="Royal Express",
        tracking_number="RE-1",
        items=[{"sku": "TEA-1KG", "qty": 1}],
    )
    shipment = client.get_shipment(shipment_id)
    assert (shipment.carrier, shipment.tracking_number, shipment.items) == ("Royal Express", "RE-1", [("TEA-1KG", 1)])
    assert client.get_order(ref.order_id).status == "processing"


def test_an_order_saved_whose_answer_was_lost_is_not_saved_twice(client, store):
    # Given Commerce saves the order but the answer is lost (a 502 after commit)
    store.fail_next("POST", "/V1/orders", 502, after_effect=True)
    # When the channel creates the order, Then it finds the saved one instead of saving again
    ref = client.create_order(draft())
    assert ref.status == "processing" and store.order_count == 1
    assert store.product("MUG-RED")["salable_qty"] == 8  # held once, not twice


def test_a_shipment_whose_answer_was_lost_is_not_created_twice(client, store, events):
    ref = client.create_order(draft())
    # Given Commerce saves the shipment but the answer is lost
    store.fail_next("POST", "/V1/order/", 502, after_effect=True)
    # When the channel ships, Then it finds the shipment by its tracking number
    shipment_id = client.ship_order(
        ref.order_id,
        CommerceShipment(order_id=ref.order_id, carrier="USPS", tracking_number="9400", items=[("MUG-RED", 1)]),
    )
    assert client.get_shipment(shipment_id).items == [("MUG-RED", 1)]
    assert len(store.order_by_ext_id("111-0000001-0000001")["shipments"]) == 1 and len(events) == 1


def test_shipping_more_than_ordered_is_refused_with_commerces_message(client):
    ref = client.create_order(draft())
    with pytest.raises(CommerceRejected, match="more than"):
        client.ship_order(
            ref.order_id,
            CommerceShipment(order_id=ref.order_id, carrier="UPS", tracking_number="1Z1", items=[("MUG-RED", 3)]),
        )


def test_comments_are_silent_and_set_only_a_status_the_merchant_assigned(client, store):
    ref = client.create_order(draft())
    client.add_comment(ref.order_id, "Shipment confirmed to Amazon.")
    # Given status "amazon_review" is not assigned to state processing, When the channel asks for it
    with pytest.raises(OrderStatusRefused, match="is not part of the order status history"):
        client.add_comment(ref.order_id, "Held by the channel.", status="amazon_review")
    assert client.get_order(ref.order_id).status == "processing"
    # When the merchant assigns it (Stores > Order Status), Then the comment sets it
    store.assign_status("amazon_review", "processing")
    client.add_comment(ref.order_id, "Held by the channel.", status="amazon_review")
    assert client.get_order(ref.order_id).status == "amazon_review"
    assert store.order_by_ext_id("111-0000001-0000001")["emails_sent_to_customer"] == 0


def test_a_comment_commerce_refuses_for_another_reason_is_not_taken_for_a_refused_status(client, store):
    # Given an order, and a store that refuses the next comment for a reason of its own
    order = client.create_order(draft())
    store.fail_next("POST", f"/V1/orders/{order.order_id}/comments", 400)
    # When the channel sets a status with a comment
    with pytest.raises(CommerceRejected) as refused:
        client.add_comment(order.order_id, "Imported.", status="processing")
    # Then it is Commerce's refusal as it is, never advice to assign the status
    assert not isinstance(refused.value, OrderStatusRefused)


def test_a_custom_import_status_the_merchant_assigned_is_applied_after_invoicing(client, store):
    store.assign_status("amazon_processing", "processing")
    ref = client.create_order(draft(status="amazon_processing"))
    assert ref.status == "amazon_processing" and ref.note is None


def test_a_custom_import_status_commerce_refuses_leaves_the_order_made_with_a_note(client, store):
    # Given the merchant never assigned "amazon_processing" to state processing
    # When the channel imports an order with that status
    ref = client.create_order(draft(status="amazon_processing"))
    # Then the order is made and invoiced, keeps "processing", carries the import comment,
    # and the channel is told what to assign
    assert ref.status == "processing" and store.order_count == 1
    assert store.comments("111-0000001-0000001")[-1] == "Imported from Amazon order 111-0000001-0000001."
    assert ref.note == (
        'Commerce kept status "processing": it refused status "amazon_processing" (The status '
        '"amazon_processing" is not part of the order status history.). Assign "amazon_processing" '
        'to state "processing" in Stores > Order Status to use it.'
    )
    # And importing again changes nothing
    assert client.create_order(draft(status="amazon_processing")).order_id == ref.order_id
    assert store.comments("111-0000001-0000001").count("Imported from Amazon order 111-0000001-0000001.") == 1


def test_errors_map_to_the_channels_named_errors(client, store, sleeps):
    with pytest.raises(CommerceRejected, match="doesn't exist"):
        client.get_order(999)
    store.fail_next("GET", "/V1/shipment/", 500, count=4)
    with pytest.raises(CommerceUnavailable):
        client.get_shipment(1)
    assert sleeps == [0.5, 1.0, 2.0]
    bad = CommerceRestClient(
        store.base_url, credentials=lambda: {**store.credentials, "consumer_secret": "x" * 32}, sleep=sleeps.append
    )
    with pytest.raises(CommerceRejected, match="401"):
        bad.get_order(1)
    nowhere = CommerceRestClient(
        "http://127.0.0.1:9", credentials=lambda: store.credentials, max_attempts=2, sleep=lambda s: None
    )
    with pytest.raises(CommerceUnavailable):
        nowhere.get_order(1)


def same(a, b) -> bool:
    """The same Commerce entity, whichever call (request id) answered."""
    return a.model_dump(exclude={"request_id"}) == b.model_dump(exclude={"request_id"})


def test_each_call_is_traced_by_operation_and_never_by_its_query(store):
    # Given a client whose calls open tracing subsegments
    from contextlib import nullcontext

    names = []
    client = CommerceRestClient(
        store.base_url, credentials=lambda: store.credentials, traced=lambda name: names.append(name) or nullcontext()
    )
    # When it looks a buyer up by email and creates the account
    client.find_customer("ana@example.com", 1)
    client.create_customer(CommerceCustomer(email="ana@example.com", firstname="Ana", lastname="Lima"))
    # Then each call is one subsegment named by method and route, and the email is in none
    assert names == ["commerce GET /V1/customers/search", "commerce POST /V1/customers"]


# --------------------------------------------------------------------------- addresses as Amazon gives them
def amazons_example_addresses() -> list[tuple[str, dict]]:
    """The delivery address of every order in the Orders v2026-01-01 model's answers, unchanged."""
    from amazon_channel_local.sp_api_models import response_examples, sandbox_cases

    found = []
    for op in ("searchOrders", "getOrder"):
        bodies = [b for s, b in response_examples(op) if s == 200] + [
            c.response for c in sandbox_cases(op) if c.status == 200
        ]
        found.extend(
            (order["orderId"], order["recipient"]["deliveryAddress"])
            for body in bodies
            for order in body.get("orders") or [body.get("order")]
        )
    return found


ADDRESSES = amazons_example_addresses()
MAGENTO_SCHEMA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "commerce-rest-schema" / "admin-schema-2.4.9.yaml"
)


@pytest.mark.parametrize("amazon_address", [a for _, a in ADDRESSES], ids=[i for i, _ in ADDRESSES])
def test_every_part_of_amazons_address_reaches_the_commerce_order(client, store, amazon_address):
    from amazon_channel.adapters.sp_api import to_amazon_order

    # Given an Amazon order delivered to one of Amazon's example addresses
    ship_to = to_amazon_order(
        {
            "orderId": "111-0000001-0000001",
            "createdTime": "2026-11-26T10:00:00Z",
            "lastUpdatedTime": "2026-11-26T10:00:00Z",
            "salesChannel": {"channelName": "AMAZON"},
            "fulfillment": {"fulfillmentStatus": "UNSHIPPED"},
            "orderItems": [],
            "recipient": {"deliveryAddress": amazon_address},
        }
    ).ship_to
    # When the channel creates the Commerce order
    ref = client.create_order(draft(billing_address=ship_to, shipping_address=ship_to))
    order = client._get_order_raw(ref.order_id)
    shipping = order["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    # Then both addresses carry the company, and a street of at most two lines (Magento's default)
    for address in (order["billing_address"], shipping):
        assert address.get("company") == (amazon_address.get("companyName") or None)
        assert 1 <= len(address["street"]) <= 2
        assert (address["city"], address["postcode"], address["country_id"]) == (
            amazon_address["city"],
            amazon_address["postalCode"],
            amazon_address["countryCode"],
        )
        # And no line, district or municipality Amazon gave is lost
        text = ", ".join(address["street"]) + ", " + address["city"]
        for part in ("addressLine1", "addressLine2", "addressLine3", "districtOrCounty", "municipality"):
            assert amazon_address.get(part, "") in text
        # And every field is one of Magento's order address fields (Adobe's schema, beside this project)
        if MAGENTO_SCHEMA.exists():
            known = magento_order_address_fields()
            assert set(address) <= known, set(address) - known


@functools.cache
def magento_order_address_fields() -> set[str]:
    import yaml

    schema = yaml.load(MAGENTO_SCHEMA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return set(schema["definitions"]["sales-data-order-address-interface"]["properties"])


def test_a_three_line_address_with_district_and_municipality_keeps_two_street_lines():
    # Given a Turkish business address with three lines, a district and a municipality
    a = Address(
        company="Yilmaz Ticaret",
        line1="Istiklal Caddesi No:42",
        line2="Kat 3",
        line3="Daire 7",
        city="Istanbul",
        district="Beyoglu",
        municipality="Istanbul",
        region="Istanbul",
        postcode="34430",
        country="TR",
    )
    # Then line 1 stays first, and the rest follows on line 2 (the municipality repeats the city: left out)
    assert a.street_lines() == ["Istiklal Caddesi No:42", "Kat 3, Daire 7, Beyoglu"]
    assert Address(line1="1 Main St").street_lines() == ["1 Main St"]
    assert Address(line2="Unit 4", district="King County").street_lines() == ["Unit 4", "King County"]
