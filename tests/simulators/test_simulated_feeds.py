"""Stories of a seller canceling orders on the simulated Amazon with the Feeds API (v2021-06-30):
every JSON call is checked against the official Feeds model, the file against the feed's columns."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from amazon_channel_local.simulators.amazon import SimulatedAmazon
from amazon_channel_local.sp_api_models import SchemaValidationError, validate_request_body, validate_response

HTTP = urllib3.PoolManager()
TSV = "text/tab-separated-values; charset=UTF-8"
HEADER = "order-id\tamazon-order-item-code\tcancellation-reason-code\n"
US = "ATVPDKIKX0DER"


@pytest.fixture
def notes():
    return []


@pytest.fixture
def amazon(notes):
    sim = SimulatedAmazon(notify=notes.append).start()
    yield sim
    sim.stop()


@pytest.fixture
def access(amazon):
    r = HTTP.request(
        "POST",
        amazon.lwa_token_url,
        encode_multipart=False,
        fields={
            "grant_type": "refresh_token",
            "refresh_token": amazon.refresh_token,
            "client_id": amazon.client_id,
            "client_secret": amazon.client_secret,
        },
    )
    return json.loads(r.data)["access_token"]


def call(amazon, access, op, method, path, body=None):
    """One Feeds API call; the request and the answer are checked against the official model."""
    if body is not None:
        validate_request_body(op, body)
    headers = {"x-amz-access-token": access, **({"content-type": "application/json"} if body is not None else {})}
    r = HTTP.request(
        method,
        amazon.base_url + path,
        headers=headers,
        retries=False,
        body=json.dumps(body) if body is not None else None,
    )
    data = json.loads(r.data) if r.data else None
    validate_response(op, r.status, data)
    return r.status, data


def a_paid_order(amazon, order_id="111-0000001-0000001", fulfillment="MFN"):
    amazon.place_order(
        {
            "id": order_id,
            "fulfillment": fulfillment,
            "items": [{"sku": "MUG-1", "qty": 2, "price": "12.50"}, {"sku": "TEA-9", "qty": 1, "price": "5.00"}],
        }
    )
    amazon.verify_payment(order_id)
    return order_id, [i["orderItemId"] for i in amazon.order_view(order_id)["orderItems"]]


def send_feed(amazon, access, content: str, content_type=TSV, feed_type="POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA"):
    status, doc = call(
        amazon, access, "createFeedDocument", "POST", "/feeds/2021-06-30/documents", {"contentType": content_type}
    )
    assert status == 201
    put = HTTP.request("PUT", doc["url"], body=content.encode(), headers={"content-type": content_type})
    assert put.status == 200
    return call(
        amazon,
        access,
        "createFeed",
        "POST",
        "/feeds/2021-06-30/feeds",
        {"feedType": feed_type, "marketplaceIds": [US], "inputFeedDocumentId": doc["feedDocumentId"]},
    )


def report_of(amazon, access, feed_id) -> str:
    status, feed = call(amazon, access, "getFeed", "GET", f"/feeds/2021-06-30/feeds/{feed_id}")
    assert status == 200 and feed["processingStatus"] == "DONE"
    status, doc = call(
        amazon, access, "getFeedDocument", "GET", f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}"
    )
    return HTTP.request("GET", doc["url"]).data.decode()


def test_a_seller_cancels_a_paid_order_with_a_cancellation_feed(amazon, access, notes):
    oid, (mug, tea) = a_paid_order(amazon)
    # When the seller sends the cancellation file, one row per item
    status, created = send_feed(amazon, access, HEADER + f"{oid}\t{mug}\tNoInventory\n{oid}\t{tea}\tNoInventory\n")
    # Then the feed is accepted, processed, and the order is canceled and announced
    assert status == 202
    assert amazon.order_status(oid) == "Canceled"
    change = json.loads(notes[-1])["Payload"]["OrderChangeNotification"]
    assert change["Summary"]["OrderStatus"] == "Canceled"
    assert "records successful\t\t2" in report_of(amazon, access, created["feedId"])
    view = amazon.order_view(oid, ["FULFILLMENT", "CANCELLATION"])
    assert view["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert view["orderItems"][0]["cancellation"]["cancellationExecution"]["cancelledBy"] == "MERCHANT"


def test_rows_amazon_cannot_apply_are_reported_and_change_nothing(amazon, access, notes):
    oid, (mug, _tea) = a_paid_order(amazon)
    shipped, (s_mug, s_tea) = a_paid_order(amazon, "111-0000001-0000002")
    # the seller confirms a first package of the second order: it is PartiallyShipped
    HTTP.request(
        "POST",
        f"{amazon.base_url}/orders/v0/orders/{shipped}/shipmentConfirmation",
        headers={"x-amz-access-token": access, "content-type": "application/json"},
        body=json.dumps(
            {
                "marketplaceId": US,
                "packageDetail": {
                    "packageReferenceId": "1",
                    "carrierCode": "UPS",
                    "trackingNumber": "1Z",
                    "shipDate": "2026-11-26T10:00:00Z",
                    "orderItems": [{"orderItemId": s_mug, "quantity": 2}],
                },
            }
        ),
    )
    sent = len(notes)
    _, created = send_feed(
        amazon,
        access,
        HEADER + f"{oid}\t{mug}\tBecauseISaidSo\n"
        f"{shipped}\t{s_tea}\tNoInventory\n"
        f"999-9999999-9999999\t1\tNoInventory\n",
    )
    report = report_of(amazon, access, created["feedId"])
    assert "Invalid cancellation-reason-code 'BecauseISaidSo'" in report
    assert "The order is PartiallyShipped" in report
    assert "The order ID was not found for this seller." in report
    assert "records successful\t\t0" in report
    assert (amazon.order_status(oid), amazon.order_status(shipped)) == ("Unshipped", "PartiallyShipped")
    assert len(notes) == sent


def test_a_file_without_the_feeds_columns_is_reported(amazon, access):
    oid, (_mug, _) = a_paid_order(amazon)
    _, created = send_feed(amazon, access, f"AmazonOrderID\tStatusCode\n{oid}\tFailure\n")
    assert "The header row must name the columns" in report_of(amazon, access, created["feedId"])
    assert amazon.order_status(oid) == "Unshipped"


def test_a_held_feed_stays_in_queue_until_amazon_processes_it(amazon, access):
    oid, items = a_paid_order(amazon)
    amazon.feeds.hold(True)
    _, created = send_feed(amazon, access, HEADER + "".join(f"{oid}\t{i}\tBuyerCanceled\n" for i in items))
    _status, feed = call(amazon, access, "getFeed", "GET", f"/feeds/2021-06-30/feeds/{created['feedId']}")
    assert feed["processingStatus"] == "IN_QUEUE" and "resultFeedDocumentId" not in feed
    assert amazon.order_status(oid) == "Unshipped"
    amazon.feeds.process()
    assert amazon.order_status(oid) == "Canceled"


def test_presigned_document_urls_take_no_token_but_must_be_used_as_signed(amazon, access):
    _, doc = call(amazon, access, "createFeedDocument", "POST", "/feeds/2021-06-30/documents", {"contentType": TSV})
    url = doc["url"]
    # another content type than the one declared, or a tampered signature, are refused
    assert HTTP.request("PUT", url, body=b"x", headers={"content-type": "text/plain"}).status == 403
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert HTTP.request("PUT", tampered, body=b"x", headers={"content-type": TSV}).status == 403
    assert int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) > 0
    # a document never uploaded cannot be fed
    status, _error = call(
        amazon,
        access,
        "createFeed",
        "POST",
        "/feeds/2021-06-30/feeds",
        {
            "feedType": "POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA",
            "marketplaceIds": [US],
            "inputFeedDocumentId": "amzn1.tortuga.4.na.unknown",
        },
    )
    assert status == 400


def test_feed_requests_off_the_official_model_are_refused(amazon, access):
    with pytest.raises(SchemaValidationError) as e:
        validate_request_body("createFeed", {"feedType": "X", "marketplaceIds": [US]})
    assert e.value.field == "inputFeedDocumentId"
    r = HTTP.request(
        "POST",
        amazon.base_url + "/feeds/2021-06-30/feeds",
        retries=False,
        headers={"x-amz-access-token": access, "content-type": "application/json"},
        body=json.dumps({"feedType": "X", "marketplaceIds": []}),
    )
    assert r.status == 400
