"""Amazon's own example answers and notifications, read from the models unchanged, through the
channel's parsers: orders (`to_amazon_order`), the Feeds and confirmShipment answers (the SP-API
client), and ORDER_CHANGE notifications (`parse_notification`)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from amazon_channel.adapters.sp_api import ADDRESS_FIELDS, SellingPartnerClient, to_amazon_order
from amazon_channel.contracts import parse_notification
from amazon_channel.domain.fba_import import import_fba_order
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, OrderCancellation, OrderChange, PackageConfirmation
from amazon_channel_local.sp_api_models import (
    notification_examples,
    operation,
    response_examples,
    sandbox_cases,
    validate_notification,
)
from fakes import SELLER, channel_ports


def amazons_example_orders() -> list[tuple[str, dict]]:
    """Every order in the searchOrders and getOrder answers of the model: examples and sandbox."""
    found = []
    for op in ("searchOrders", "getOrder"):
        answers = [(f"{op}-example", body) for status, body in response_examples(op) if status == 200]
        answers += [(case.id, case.response) for case in sandbox_cases(op) if case.status == 200]
        found.extend(
            (f"{name}-{order['orderId']}", order)
            for name, body in answers
            for order in body.get("orders") or [body.get("order")]
        )
    return found


EXAMPLE_ORDERS = amazons_example_orders()
FBA_EXAMPLES = [(n, o) for n, o in EXAMPLE_ORDERS if o["fulfillment"].get("fulfilledBy") == "AMAZON"]
NOT_AN_ADDRESS_LINE = {"extendedFields", "addressType"}  # Brazil's street parts, RESIDENTIAL/COMMERCIAL


@pytest.mark.parametrize("amazon_order", [o for _, o in EXAMPLE_ORDERS], ids=[n for n, _ in EXAMPLE_ORDERS])
def test_amazons_example_order_is_read_whole(amazon_order):
    # When the channel reads one of Amazon's example orders
    order = to_amazon_order(amazon_order, "request-1")
    # Then it is that order, as Amazon describes it
    assert order.amazon_order_id == amazon_order["orderId"]
    assert order.marketplace_id == amazon_order["salesChannel"]["marketplaceId"]
    assert amazon_order["salesChannel"]["channelName"] in ("AMAZON", "NON_AMAZON")
    fulfillment = amazon_order["fulfillment"]
    assert order.fulfillment == {"MERCHANT": "MFN", "AMAZON": "AFN"}[fulfillment["fulfilledBy"]]
    assert order.status == AmazonStatus[fulfillment["fulfillmentStatus"].replace("CANCELLED", "CANCELED")]
    buyer = amazon_order.get("buyer") or {}
    assert (order.buyer_name, order.buyer_email) == (buyer.get("buyerName"), buyer.get("buyerEmail"))
    # And every part of the delivery address Amazon gives is kept
    given = {
        k: v for k, v in amazon_order["recipient"]["deliveryAddress"].items() if v and k not in NOT_AN_ADDRESS_LINE
    }
    kept = {
        theirs: getattr(order.ship_to, ours)
        for ours, theirs in ADDRESS_FIELDS.items()
        if getattr(order.ship_to, ours) is not None
    }
    assert kept == given
    # And every item, with its SKU, quantity and unit price
    assert [(i.order_item_id, i.sku, i.qty, f"{i.unit_price}") for i in order.items] == [
        (
            i["orderItemId"],
            i["product"]["sellerSku"],
            i["quantityOrdered"],
            i["product"]["price"]["unitPrice"]["amount"],
        )
        for i in amazon_order["orderItems"]
    ]
    # And Amazon's packages, with their tracking numbers (merchant-fulfilled orders only)
    assert [(p.package_reference_id, p.tracking_number) for p in order.packages] == [
        (p["packageReferenceId"], p.get("trackingNumber")) for p in amazon_order.get("packages") or []
    ]


def test_amazons_fba_examples_have_no_packages_and_no_phone():
    # The model's word, in Amazon's own examples: packages and the buyer's phone are not given for FBA
    assert FBA_EXAMPLES
    for _, fba in FBA_EXAMPLES:
        assert "packages" not in fba and "phone" not in fba["recipient"]["deliveryAddress"]


@pytest.mark.parametrize("amazon_order", [o for _, o in FBA_EXAMPLES], ids=[n for n, _ in FBA_EXAMPLES])
def test_amazons_fba_example_is_imported_as_a_complete_commerce_order_without_tracking(amazon_order):
    # Given the order sync saw Amazon's example FBA order, shipped, in a connected marketplace
    ports = channel_ports()
    details = to_amazon_order(amazon_order)
    ports.stores.store.marketplace_ids.append(details.marketplace_id)
    change = OrderChange(
        amazon_order_id=details.amazon_order_id,
        seller_id=SELLER,
        marketplace_id=details.marketplace_id,
        status=details.status,
        fulfillment="AFN",
        changed_at=details.last_updated,
        source="sync",
        details=details,
    )
    intake = IntakePorts(orders=ports.orders, stores=ports.stores, workflows=ports.workflows, events=ports.events)
    assert record_order_change(change, intake).fba_import_announced
    # When the FBA import runs
    assert import_fba_order(details.amazon_order_id, ports) == "imported"
    # Then Commerce has a complete order, shipped in one shipment of everything, with no tracking
    order = ports.orders.get(details.amazon_order_id)
    assert order.commerce.status == "complete"
    (shipment,) = ports.commerce.shipments.values()
    assert (shipment.carrier, shipment.tracking_number) == ("", "")
    assert shipment.items == [(i.sku, i.qty) for i in details.items]
    assert ports.marketplace.get_calls == 0  # the sync's details were enough


# --------------------------------------------------------------------------- confirmShipment and Feeds
class AmazonAnswers:
    """An HTTP pool answering each SP-API operation with the answer of one of its sandbox cases."""

    def __init__(self, **cases):
        self.routes = [
            (
                operation(op).method,
                re.compile("^" + re.sub(r"\{[^}]+\}", "[^/?]+", operation(op).path) + r"(\?|$)"),
                case,
            )
            for op, case in cases.items()
        ]
        self.sent: list[tuple[str, str]] = []

    def request(self, method, url, body=None, headers=None, **_):
        self.sent.append((method, url))
        if url.endswith("/auth/o2/token"):
            return _Reply(200, {"access_token": "Atza|example", "token_type": "bearer", "expires_in": 3600})
        path = "/" + url.split("/", 3)[3]
        for m, pattern, case in self.routes:
            if m == method and pattern.match(path):
                return _Reply(case.status, case.response or None)
        return _Reply(200, None)  # the feed document's presigned URL


class _Reply:
    def __init__(self, status, body):
        self.status, self.data = status, json.dumps(body).encode() if body is not None else b""
        self.headers = {"x-amzn-RequestId": "example-request"}


def success(op):
    return next(c for c in sandbox_cases(op) if c.status < 300)


def client_answered_by(http):
    creds = {"client_id": "c", "client_secret": "s", "refresh_tokens": {SELLER: "Atzr|r"}}
    return SellingPartnerClient(
        "https://sellingpartnerapi-na.amazon.com",
        "https://api.amazon.com/auth/o2/token",
        lambda: creds,
        http=http,
        sleep=lambda _s: None,
    )


def test_amazons_shipment_confirmation_answer_is_understood():
    client = client_answered_by(AmazonAnswers(confirmShipment=success("confirmShipment")))
    confirmation = PackageConfirmation(
        amazon_order_id="902-1106328-1059050",
        marketplace_id="ATVPDKIKX0DER",
        package_reference_id="1",
        carrier_code="FedEx",
        tracking_number="112345678",
        ship_date="2026-11-26T10:00:00Z",
        items=[("79039765272157", 1)],
    )
    assert client.confirm_shipment(SELLER, confirmation) == "example-request"


def test_amazons_feed_answers_carry_a_cancellation_through():
    # Given Amazon answers as in its sandbox: a document, a feed, and that feed CANCELLED
    http = AmazonAnswers(
        createFeedDocument=success("createFeedDocument"), createFeed=success("createFeed"), getFeed=success("getFeed")
    )
    client = client_answered_by(http)
    # When the channel sends a cancellation, Then it keeps Amazon's feed id
    feed_id = client.request_cancellation(
        SELLER,
        OrderCancellation(
            amazon_order_id="902-1106328-1059050",
            marketplace_id="ATVPDKIKX0DER",
            order_item_ids=["79039765272157"],
            reason_code="NoInventory",
        ),
    )
    assert feed_id == success("createFeed").response["feedId"]
    assert ("PUT", success("createFeedDocument").response["url"]) in http.sent  # the file went to Amazon's URL
    # And a feed Amazon cancelled is a refused cancellation, with the reason
    result = client.cancellation_result(SELLER, feed_id)
    assert (result.status, result.accepted) == ("CANCELLED", False) and "cancelled" in result.message


# --------------------------------------------------------------------------- ORDER_CHANGE
NOTIFICATIONS = notification_examples()


@pytest.mark.parametrize("example", NOTIFICATIONS, ids=lambda n: n["NotificationMetadata"]["NotificationId"])
def test_amazons_order_change_example_is_read_as_it_stands(example):
    change = parse_notification(json.dumps(example)).to_order_change()
    body = example["Payload"]["OrderChangeNotification"]
    assert (change.amazon_order_id, change.seller_id, change.marketplace_id) == (
        body["AmazonOrderId"],
        body["SellerId"],
        body["Summary"]["MarketplaceId"],
    )
    assert (change.status.value, change.fulfillment) == (
        body["Summary"]["OrderStatus"],
        body["Summary"]["FulfillmentType"],
    )
    assert change.notification_id == example["NotificationMetadata"]["NotificationId"]
    assert [(ln.order_item_id, ln.sku, ln.qty, ln.qty_shipped, ln.buyer_requested_cancel) for ln in change.lines] == [
        (i["OrderItemId"], i["SellerSKU"], i["Quantity"], i["QuantityShipped"], i["IsBuyerRequestedCancel"])
        for i in body["Summary"]["OrderItems"]
    ]


@pytest.mark.parametrize("example", NOTIFICATIONS, ids=lambda n: n["NotificationMetadata"]["NotificationId"])
@pytest.mark.parametrize("status, shipped", [("Shipped", "all"), ("Unshipped", "none")])
def test_an_order_change_without_quantity_shipped_counts_as_fully_shipped_only_when_shipped(example, status, shipped):
    # Given Amazon's example, with the order in `status` and QuantityShipped left out, as Amazon may
    note = copy.deepcopy(example)
    summary = note["Payload"]["OrderChangeNotification"]["Summary"]
    summary["OrderStatus"] = status
    for item in summary["OrderItems"]:
        del item["QuantityShipped"]
        item.pop("OrderItemStatus", None)
    validate_notification(note)  # the schema allows it
    # Then every unit counts as shipped when the order is Shipped, none otherwise
    lines = parse_notification(json.dumps(note)).to_order_change().lines
    assert [ln.qty_shipped for ln in lines] == [i["Quantity"] if shipped == "all" else 0 for i in summary["OrderItems"]]
