"""Stories of merchants' orders on the simulated Amazon, checked against the official models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import urllib3

from amazon_channel_local.simulators.amazon import SimulatedAmazon
from amazon_channel_local.sp_api_models import (
    SchemaValidationError,
    validate_notification,
    validate_query,
    validate_request_body,
    validate_response,
)
from fakes import mug_order

HTTP = urllib3.PoolManager()
ALL_DATA = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES"
US = "ATVPDKIKX0DER"


@pytest.fixture
def notes():
    return []


@pytest.fixture
def amazon(notes):
    sim = SimulatedAmazon(notify=notes.append).start()
    yield sim
    sim.stop()


def token(sim: SimulatedAmazon) -> str:
    r = HTTP.request(
        "POST",
        sim.lwa_token_url,
        encode_multipart=False,
        fields={
            "grant_type": "refresh_token",
            "refresh_token": sim.credentials["refresh_tokens"][sim.seller_id],
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        },
    )
    assert r.status == 200
    return json.loads(r.data)["access_token"]


def call(sim, op, method, path, *, access=None, body=None, fields=None):
    """One SP-API call; the answer is checked against the model of `op`."""
    headers = {"x-amz-access-token": access or token(sim)}
    if body is not None:
        headers["content-type"] = "application/json"
    r = HTTP.request(
        method,
        sim.base_url + path,
        headers=headers,
        fields=fields,
        body=json.dumps(body) if body is not None else None,
        retries=False,
    )
    data = json.loads(r.data) if r.data else None
    validate_response(op, r.status, data)
    assert r.headers["x-amzn-RequestId"]
    assert r.headers["x-amzn-RateLimit-Limit"]
    return r.status, r.headers, data


def get_order(sim, order_id, included=ALL_DATA, access=None):
    return call(
        sim,
        "getOrder",
        "GET",
        f"/orders/2026-01-01/orders/{order_id}",
        access=access,
        fields={"includedData": included},
    )


def confirm(sim, order_id, items, ref="1", ship_date="2026-11-26T10:00:00Z", access=None, marketplace=US):
    body = {
        "marketplaceId": marketplace,
        "packageDetail": {
            "packageReferenceId": ref,
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": ship_date,
            "orderItems": [{"orderItemId": i, "quantity": q} for i, q in items],
        },
    }
    return call(
        sim, "confirmShipment", "POST", f"/orders/v0/orders/{order_id}/shipmentConfirmation", access=access, body=body
    )


def summary(note: str) -> dict:
    return json.loads(note)["Payload"]["OrderChangeNotification"]["Summary"]


# --------------------------------------------------------------------------- orders and notifications
def test_a_new_order_is_pending_and_announced_with_an_order_change(amazon, notes):
    # Given a buyer orders two mugs and a tea
    oid = amazon.place_order(mug_order())
    # Then the order is Pending and one ORDER_CHANGE, valid against the model, says so, without prices
    assert amazon.order_status(oid) == "Pending"
    assert len(notes) == 1
    validate_notification(notes[0])
    body = json.loads(notes[0])
    change = body["Payload"]["OrderChangeNotification"]
    assert change["SellerId"] == amazon.seller_id and change["AmazonOrderId"] == oid
    assert change["OrderChangeType"] == "OrderStatusChange"
    assert change["OrderChangeTrigger"]["ChangeReason"] == "Order Status Change"
    s = change["Summary"]
    assert (s["OrderStatus"], s["FulfillmentType"], s["DestinationPostalCode"]) == ("Pending", "MFN", "78701")
    assert s["NumberOfItemsUnshipped"] == 3 and s["NumberOfItemsShipped"] == 0
    ids = [i["OrderItemId"] for i in s["OrderItems"]]
    assert all(i.isdigit() for i in ids) and len(set(ids)) == 2
    assert "price" not in notes[0].lower()


def test_payment_verification_and_cancellation_follow_amazons_life_cycle(amazon, notes):
    # Given two pending orders
    a = amazon.place_order(mug_order("111-0000001-0000001"))
    b = amazon.place_order(mug_order("111-0000001-0000002"))
    # When Amazon verifies the first payment and the second buyer cancels
    amazon.verify_payment(a)
    amazon.cancel(b)
    # Then each change is announced with the new status
    assert [summary(n)["OrderStatus"] for n in notes] == ["Pending", "Pending", "Unshipped", "Canceled"]
    assert amazon.order_status(a) == "Unshipped" and amazon.order_status(b) == "Canceled"
    # And impossible transitions and unknown orders are refused
    with pytest.raises(ValueError):
        amazon.verify_payment(b)
    with pytest.raises(ValueError):
        amazon.ship(a)  # merchant-fulfilled: Amazon does not ship it
    with pytest.raises(ValueError):
        amazon.cancel("999-9999999-9999999")


def test_every_change_has_a_strictly_later_timestamp_even_with_a_frozen_clock(notes):
    frozen = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    sim = SimulatedAmazon(notify=notes.append, clock=lambda: frozen)
    oid = sim.place_order(mug_order())
    sim.verify_payment(oid)
    sim.cancel(oid)
    times = [
        json.loads(n)["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] for n in notes
    ]
    assert times == ["2026-11-26T10:00:00.000Z", "2026-11-26T10:00:00.001Z", "2026-11-26T10:00:00.002Z"]


def test_lost_notifications_stay_lost_and_redelivery_repeats_the_others(amazon, notes):
    # Given one order announced, then notifications lost while a second order arrives
    a = amazon.place_order(mug_order("111-0000001-0000001"))
    amazon.set_lose_notifications(True)
    b = amazon.place_order(mug_order("111-0000001-0000002"))
    amazon.set_lose_notifications(False)
    amazon.verify_payment(a)
    # Then the second order exists but nobody heard of it
    assert amazon.order_status(b) == "Pending"
    assert [json.loads(n)["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for n in notes] == [a, a]
    # When Amazon redelivers, the same notifications (same ids) come again in the same order
    amazon.redeliver_notifications()
    assert notes[2:] == notes[:2]
    assert amazon.notifications_sent == notes[:2]


def test_fba_order_shipped_by_amazon_shows_no_package_no_phone_and_no_email(amazon, notes):
    # Given an FBA order, with a phone on its address, whose payment is verified
    oid = amazon.place_order(mug_order(fulfillment="AFN", ship_to={"line1": "1 Main St", "phone": "512-555-0100"}))
    amazon.verify_payment(oid)
    # When Amazon ships it from its stock
    amazon.ship(oid)
    # Then it is Shipped, and the notification leaves QuantityShipped out, as Amazon's may
    assert summary(notes[-1])["OrderStatus"] == "Shipped"
    assert summary(notes[-1])["NumberOfItemsShipped"] == 3
    assert all("QuantityShipped" not in i for i in summary(notes[-1])["OrderItems"])
    status, _, body = get_order(amazon, oid)
    order = body["order"]
    assert status == 200
    assert order["fulfillment"] == {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"}
    # And, as the model says, no packages (merchant-fulfilled only), no phone, no buyer email
    assert "packages" not in order
    assert "phone" not in order["recipient"]["deliveryAddress"]
    assert order["buyer"] == {"buyerName": "Ann Lee"}
    assert [i["fulfillment"]["quantityFulfilled"] for i in order["orderItems"]] == [2, 1]
    # And Amazon's own shipment cannot be confirmed by the merchant
    status, _, body = confirm(amazon, oid, [(order["orderItems"][0]["orderItemId"], 1)])
    assert status == 400


def test_the_buyer_email_appears_once_amazon_verified_the_payment(amazon):
    # Given a merchant-fulfilled order still Pending
    oid = amazon.place_order(mug_order())
    # Then Amazon shows the buyer's name but not the email yet
    assert get_order(amazon, oid)[2]["order"]["buyer"] == {"buyerName": "Ann Lee"}
    # When the payment is verified, the email appears
    amazon.verify_payment(oid)
    assert get_order(amazon, oid)[2]["order"]["buyer"]["buyerEmail"] == "ann@marketplace.amazon.com"


def test_an_address_with_three_lines_a_company_district_and_municipality_is_given_whole(amazon):
    # Given a business buyer in Istanbul with a three-line address
    oid = amazon.place_order(
        mug_order(
            ship_to={
                "name": "Mehmet Yilmaz",
                "company": "Yilmaz Ticaret",
                "line1": "Istiklal Caddesi No:42",
                "line2": "Kat 3",
                "line3": "Daire 7",
                "city": "Istanbul",
                "district": "Beyoglu",
                "municipality": "Beyoglu Belediyesi",
                "region": "Istanbul",
                "postcode": "34430",
                "country": "TR",
                "phone": "+90 212 555 0100",
            }
        )
    )
    amazon.verify_payment(oid)
    # Then getOrder gives every part under the model's names
    address = get_order(amazon, oid)[2]["order"]["recipient"]["deliveryAddress"]
    assert address == {
        "name": "Mehmet Yilmaz",
        "companyName": "Yilmaz Ticaret",
        "addressLine1": "Istiklal Caddesi No:42",
        "addressLine2": "Kat 3",
        "addressLine3": "Daire 7",
        "city": "Istanbul",
        "districtOrCounty": "Beyoglu",
        "stateOrRegion": "Istanbul",
        "municipality": "Beyoglu Belediyesi",
        "postalCode": "34430",
        "countryCode": "TR",
        "phone": "+90 212 555 0100",
    }


# --------------------------------------------------------------------------- getOrder
def test_get_order_returns_prices_taxes_and_shipping_per_the_model(amazon):
    # Given a paid MFN order of 2 mugs at 12.50 (tax 2.00) and a tea at 5.00, shipping 4.99 + 0.40 tax
    oid = amazon.place_order(mug_order())
    amazon.verify_payment(oid)
    # When the seller's app reads it with every dataset
    status, headers, body = get_order(amazon, oid)
    order = body["order"]
    # Then the answer (validated against GetOrderResponse) carries everything the channel needs
    assert status == 200 and headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert order["salesChannel"] == {"channelName": "AMAZON", "marketplaceId": US, "marketplaceName": "Amazon.com"}
    assert order["fulfillment"] == {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"}
    assert order["buyer"] == {"buyerName": "Ann Lee", "buyerEmail": "ann@marketplace.amazon.com"}
    assert order["recipient"]["deliveryAddress"]["postalCode"] == "78701"
    assert order["proceeds"]["grandTotal"] == {"amount": "37.39", "currencyCode": "USD"}
    mug, tea = order["orderItems"]
    assert mug["product"]["price"]["unitPrice"]["amount"] == "12.50"
    kinds = {b["type"]: b for b in mug["proceeds"]["breakdowns"]}
    assert kinds["ITEM"]["subtotal"]["amount"] == "25.00"
    assert kinds["SHIPPING"]["subtotal"]["amount"] == "4.99"
    assert kinds["TAX"]["subtotal"]["amount"] == "2.40"
    assert {d["subtype"]: d["value"]["amount"] for d in kinds["TAX"]["detailedBreakdowns"]} == {
        "ITEM": "2.00",
        "SHIPPING": "0.40",
    }
    assert {b["type"]: b["subtotal"]["amount"] for b in tea["proceeds"]["breakdowns"]} == {
        "ITEM": "5.00",
        "SHIPPING": "0.00",
        "TAX": "0.00",
    }
    assert mug["fulfillment"] == {"quantityFulfilled": 0, "quantityUnfulfilled": 2}
    # And without includedData only the order and its items come back
    _, _, bare = get_order(amazon, oid, included="")
    assert set(bare["order"]) == {"orderId", "createdTime", "lastUpdatedTime", "salesChannel", "orderItems"}


def test_get_order_refuses_unknown_orders_unknown_datasets_and_missing_tokens(amazon):
    oid = amazon.place_order(mug_order())
    status, _, body = get_order(amazon, "999-9999999-9999999")
    assert status == 404 and body["errors"][0]["code"] == "NotFound"
    status, _, body = get_order(amazon, oid, included="BUYER,SECRETS")
    assert status == 400 and "includedData" in body["errors"][0]["message"]
    status, _, body = get_order(amazon, oid, access="Atza|forged")
    assert status == 403 and body["errors"][0]["code"] == "Unauthorized"


def test_lwa_refuses_wrong_credentials(amazon):
    r = HTTP.request(
        "POST",
        amazon.lwa_token_url,
        encode_multipart=False,
        fields={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|stolen",
            "client_id": amazon.client_id,
            "client_secret": amazon.client_secret,
        },
    )
    assert r.status == 400 and json.loads(r.data)["error"] == "invalid_grant"


# --------------------------------------------------------------------------- searchOrders
def test_search_orders_pages_through_recently_updated_orders(amazon):
    # Given five orders, the first of which is updated last
    ids = [amazon.place_order(mug_order(f"111-0000001-000000{n}")) for n in range(1, 6)]
    amazon.verify_payment(ids[0])
    access = token(amazon)
    # When the app searches two at a time
    seen, page_token, pages = [], None, 0
    while True:
        fields = {
            "lastUpdatedAfter": "2020-01-01T00:00:00Z",
            "marketplaceIds": US,
            "maxResultsPerPage": "2",
            "includedData": "FULFILLMENT",
        }
        if page_token:
            fields["paginationToken"] = page_token
        status, _, body = call(amazon, "searchOrders", "GET", "/orders/2026-01-01/orders", access=access, fields=fields)
        assert status == 200 and "lastUpdatedBefore" in body
        pages += 1
        seen += [o["orderId"] for o in body["orders"]]
        page_token = body.get("pagination", {}).get("nextToken")
        if not page_token:
            break
    # Then every order comes once, oldest update first, and the last page has no nextToken
    assert pages == 3
    assert seen == ids[1:] + ids[:1]


def test_search_orders_filters_and_validates_its_query(amazon):
    mfn = amazon.place_order(mug_order("111-0000001-0000001"))
    amazon.place_order(mug_order("111-0000001-0000002", fulfillment="AFN"))
    access = token(amazon)
    path = "/orders/2026-01-01/orders"
    status, _, body = call(
        amazon,
        "searchOrders",
        "GET",
        path,
        access=access,
        fields={"createdAfter": "2020-01-01T00:00:00Z", "fulfilledBy": "MERCHANT"},
    )
    assert status == 200 and [o["orderId"] for o in body["orders"]] == [mfn] and "createdBefore" in body
    for fields in (
        {},
        {"lastUpdatedAfter": "2020-01-01T00:00:00Z", "maxResultsPerPage": "101"},
        {"lastUpdatedAfter": "yesterday"},
        {"lastUpdatedAfter": "2020-01-01T00:00:00Z", "fulfillmentStatuses": "LOST"},
    ):
        status, _, body = call(amazon, "searchOrders", "GET", path, access=access, fields=fields)
        assert status == 400, fields
        assert body["errors"][0]["code"] == "InvalidInput"


# --------------------------------------------------------------------------- confirmShipment
def test_merchant_confirms_two_packages_and_the_order_ships(amazon, notes):
    # Given a paid order of 2 mugs and a tea
    oid = amazon.place_order(mug_order())
    amazon.verify_payment(oid)
    mug, tea = [i["orderItemId"] for i in get_order(amazon, oid)[2]["order"]["orderItems"]]
    # When the merchant ships one mug, then the rest
    status, _, body = confirm(amazon, oid, [(mug, 1)], ref="1")
    assert (status, body) == (204, None)
    assert amazon.order_status(oid) == "PartiallyShipped"
    status, _, _ = confirm(amazon, oid, [(mug, 1), (tea, 1)], ref="2")
    assert status == 204
    # Then Amazon records both packages, the order is Shipped, and each change was announced
    assert amazon.order_status(oid) == "Shipped"
    assert amazon.shipment_confirmations(oid) == [
        {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "items": [{"sku": "MUG-1", "qty": 1}],
            "package_reference_id": "1",
            "ship_date": "2026-11-26T10:00:00Z",
        },
        {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "items": [{"sku": "MUG-1", "qty": 1}, {"sku": "TEA-9", "qty": 1}],
            "package_reference_id": "2",
            "ship_date": "2026-11-26T10:00:00Z",
        },
    ]
    assert [summary(n)["OrderStatus"] for n in notes][-2:] == ["PartiallyShipped", "Shipped"]
    assert len(get_order(amazon, oid)[2]["order"]["packages"]) == 2
    # And confirming the same package again is refused and counted as a duplicate
    status, _, body = confirm(amazon, oid, [(mug, 1)], ref="2")
    assert status == 400 and amazon.duplicate_confirmations == 1


def test_confirmations_that_cannot_be_right_are_refused(amazon):
    pending = amazon.place_order(mug_order("111-0000001-0000001"))
    paid = amazon.place_order(mug_order("111-0000001-0000002"))
    amazon.verify_payment(paid)
    mug = get_order(amazon, paid)[2]["order"]["orderItems"][0]["orderItemId"]
    access = token(amazon)
    assert confirm(amazon, pending, [(mug, 1)], access=access)[0] == 400  # not paid yet
    assert confirm(amazon, paid, [("123", 1)], access=access)[0] == 400  # not an item of the order
    assert confirm(amazon, paid, [(mug, 3)], access=access)[0] == 400  # only 2 ordered
    assert confirm(amazon, paid, [(mug, 1)], ship_date="26/11/2026", access=access)[0] == 400  # not ISO
    assert confirm(amazon, paid, [(mug, 1)], marketplace="A2EUQ1WTGCTBG2", access=access)[0] == 400
    assert confirm(amazon, "999-9999999-9999999", [(mug, 1)], access=access)[0] == 404
    assert amazon.order_status(paid) == "Unshipped" and amazon.shipment_confirmations(paid) == []


# --------------------------------------------------------------------------- limits and faults
def test_get_order_is_throttled_after_its_burst(amazon):
    oid = amazon.place_order(mug_order())
    access = token(amazon)
    statuses = [get_order(amazon, oid, access=access)[0] for _ in range(31)]
    assert statuses[:30] == [200] * 30
    status, headers, body = get_order(amazon, oid, access=access)
    assert status == 429 and headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert body == {
        "errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]
    }
    assert amazon.call_counts["throttled"]["getOrder"] == 2
    assert amazon.call_counts["getOrder"] == 32


def test_injected_faults_answer_the_next_calls(amazon):
    oid = amazon.place_order(mug_order())
    access = token(amazon)
    amazon.fail_next("getOrder", 503, count=2)
    ids = set()
    for expected in (503, 503, 200):
        status, headers, _ = get_order(amazon, oid, access=access)
        assert status == expected
        ids.add(headers["x-amzn-RequestId"])
    assert len(ids) == 3


# --------------------------------------------------------------------------- the validators themselves
def test_validators_name_the_offending_field():
    with pytest.raises(SchemaValidationError) as e:
        validate_request_body("confirmShipment", {"marketplaceId": US, "packageDetail": {"packageReferenceId": "1"}})
    assert e.value.field == "packageDetail.carrierCode"
    with pytest.raises(SchemaValidationError) as e:
        validate_query("getOrder", {"includedData": "BUYER,NOPE"})
    assert e.value.field == "includedData"
    with pytest.raises(SchemaValidationError) as e:
        validate_notification({"NotificationVersion": "1.0"})
    assert e.value.field == "NotificationType"
